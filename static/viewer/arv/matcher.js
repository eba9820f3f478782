// Finds a marker's target among a camera frame's feature points (detector.js).
//
// Per keyframe of the target (the photo at scales 1, 2^-1/3, ... down to 100 px):
//   1. every frame point looks for its nearest keyframe descriptor of the same polarity (DoG
//      maximum or minimum) through the keyframe's hierarchical clustering tree, best-bin-first
//      with a bounded number of extra branches; a pair is kept when the nearest Hamming distance
//      is under `ratio` times the second nearest (Lowe's ratio test);
//   2. Hough voting over (position of the keyframe's centre, rotation, log scale), each pair
//      predicting them from its two points' positions, angles and octaves, keeps the pairs of
//      the most voted pose;
//   3. RANSAC (4-point homographies, deterministic seeded generator) keeps the pairs within
//      `inlierThreshold` pixels.
// The keyframe with the most inliers then gets a guided second pass: every frame point is
// compared with the keyframe points that the homography puts within `guidedRadius` pixels of
// it, which recovers the pairs the tree missed; the final homography is refitted on those with
// RANSAC and Gauss-Newton. The thresholds are MindAR 1.2.5's (ratio 0.7, 3 px, 10 px); the tree
// search, Hough bins and RANSAC are this module's own.
//
// The result maps the target photo's pixels (continuous coordinates: its corners are (0, 0) and
// (width, height)) to the frame's (corner (0, 0) at the top-left of the top-left pixel).

import { DESCRIPTOR_WORDS } from "./detector.js";
import { applyH, Homographies, invert3 } from "./homography.js";

export function popcount32(v) {
  v -= (v >>> 1) & 0x55555555;
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}

export function hamming(a, ai, b, bi) {
  let d = 0;
  for (let k = 0; k < DESCRIPTOR_WORDS; k++) d += popcount32(a[ai + k] ^ b[bi + k]);
  return d;
}

// The Hamming distance, or some value >= limit as soon as the distance is known to reach it:
// a candidate that far cannot be among the two nearest, so the rest of its bits do not matter.
export function hammingBelow(a, ai, b, bi, limit) {
  let d = 0;
  for (let k = 0; k < DESCRIPTOR_WORDS; k += 7) {
    d += popcount32(a[ai + k] ^ b[bi + k]) + popcount32(a[ai + k + 1] ^ b[bi + k + 1])
      + popcount32(a[ai + k + 2] ^ b[bi + k + 2]) + popcount32(a[ai + k + 3] ^ b[bi + k + 3])
      + popcount32(a[ai + k + 4] ^ b[bi + k + 4]) + popcount32(a[ai + k + 5] ^ b[bi + k + 5])
      + popcount32(a[ai + k + 6] ^ b[bi + k + 6]);
    if (d >= limit) return d;
  }
  return d;
}

const NUM_ANGLE_BINS = 12;
const NUM_SCALE_BINS = 10;
const HASH_SLOTS = 1 << 14;
const FAR = 1 << 30;

export const MATCHER_DEFAULTS = {
  ratio: 0.7, // Lowe's ratio test on Hamming distances
  maxPops: 2, // extra tree branches per query (best-bin-first); the guided pass recovers most
  //             of what a narrow search misses: 8 costs 1.7x for no more inliers
  minMatches: 8, // pairs needed before voting
  minInliers: 10, // pairs consistent with the final homography for a detection
  inlierThreshold: 3, // px in the frame
  guidedRadius: 10, // px in the keyframe
  ransacIterations: 96,
  keyframesForGuided: 2, // best keyframes of the first pass that get the guided pass
};

export class Matcher {
  constructor(options = {}) {
    this.options = { ...MATCHER_DEFAULTS, ...options };
    this.geo = new Homographies(1024);
    this.capacity = 0;
    this._grow(1024);
    this.heapD = new Int32Array(4096);
    this.heapN = new Int32Array(4096);
    this.heapSize = 0;
    this.hashKeys = new Int32Array(HASH_SLOTS);
    this.hashVotes = new Int32Array(HASH_SLOTS);
    this.hashUsed = new Int32Array(HASH_SLOTS);
    this.hashKeys.fill(-1);
    this.hashUsedCount = 0;
    this.Hk = new Float64Array(9);
    this.Hinv = new Float64Array(9);
    this.pt = new Float64Array(2);
    // Per keyframe of the first pass: its number, inliers and homography (no per-frame garbage).
    this.ranked = Array.from({ length: 64 }, () => ({ k: 0, inliers: 0, H: new Float64Array(9) }));
    this.rankedCount = 0;
  }

  _grow(n) {
    if (n <= this.capacity) return;
    this.capacity = n;
    this.pairQuery = new Int32Array(n);
    this.pairKey = new Int32Array(n);
    this.pairPolarity = new Uint8Array(n);
    this.keep = new Int32Array(n);
    this.src = new Float64Array(2 * n);
    this.dst = new Float64Array(2 * n);
    this.binX = new Float64Array(n);
    this.binY = new Float64Array(n);
    this.binA = new Float64Array(n);
    this.binS = new Float64Array(n);
    this.valid = new Uint8Array(n);
    this.candidates = new Int32Array(Math.max(4096, n));
    this.dims = new Float64Array(n);
  }

  // features: FeatureSet of the frame; target: a marker target (marker.js). Writes the
  // homography (target pixels -> frame pixels) into H and returns the inlier count, 0 if the
  // target is not in the frame.
  match(features, target, frameWidth, frameHeight, H) {
    const o = this.options;
    this._grow(features.count + 8);
    // First pass on every keyframe; remember the best few.
    const ranked = this.ranked;
    let count = 0;
    for (let k = 0; k < target.keyframes.length && k < ranked.length; k++) {
      const keyframe = target.keyframes[k];
      let n = this._treePairs(features, keyframe);
      if (n < o.minMatches) continue;
      n = this._hough(features, keyframe, n, frameWidth, frameHeight);
      if (n < o.minMatches) continue;
      const inliers = this._fit(features, keyframe, n, this.Hk);
      if (inliers < o.minMatches) continue;
      ranked[count].k = k;
      ranked[count].inliers = inliers;
      ranked[count].H.set(this.Hk);
      count += 1;
    }
    if (!count) return 0;
    // Most inliers first (insertion sort of a handful; ties keep the larger keyframe).
    for (let i = 1; i < count; i++) {
      const entry = ranked[i];
      let j = i - 1;
      while (j >= 0 && ranked[j].inliers < entry.inliers) {
        ranked[j + 1] = ranked[j];
        j -= 1;
      }
      ranked[j + 1] = entry;
    }
    let best = 0;
    for (let r = 0; r < Math.min(o.keyframesForGuided, count); r++) {
      const { k, H: Hfirst } = ranked[r];
      const keyframe = target.keyframes[k];
      const n = this._guidedPairs(features, keyframe, Hfirst);
      if (n < o.minInliers) continue;
      const inliers = this._fit(features, keyframe, n, this.Hk);
      if (inliers > best) {
        best = inliers;
        // Target pixels -> keyframe pixels is a scaling by keyframe.scale.
        const s = keyframe.scale;
        const Hk = this.Hk;
        H[0] = Hk[0] * s; H[1] = Hk[1] * s; H[2] = Hk[2];
        H[3] = Hk[3] * s; H[4] = Hk[4] * s; H[5] = Hk[5];
        H[6] = Hk[6] * s; H[7] = Hk[7] * s; H[8] = Hk[8];
      }
    }
    return best >= o.minInliers ? best : 0;
  }

  // --- 1. Tree search and ratio test --------------------------------------------------------
  _treePairs(features, keyframe) {
    const o = this.options;
    let n = 0;
    const qd = features.descriptors;
    for (let q = 0; q < features.count; q++) {
      const polarity = features.maxima[q];
      const set = polarity ? keyframe.maxima : keyframe.minima;
      if (!set.count) continue;
      const found = this._searchTree(set, qd, q * DESCRIPTOR_WORDS, o.maxPops);
      this._startNearest();
      for (let c = 0; c < found; c++) {
        const index = this.candidates[c];
        this._consider(hammingBelow(set.descriptors, index * DESCRIPTOR_WORDS, qd, q * DESCRIPTOR_WORDS, this.d2), index);
      }
      n = this._acceptNearest(q, polarity, n);
    }
    return n;
  }

  // The nearest and second nearest distances among the candidates given to _consider().
  _startNearest() {
    this.d1 = FAR;
    this.d2 = FAR;
    this.nearest = -1;
  }

  _consider(d, index) {
    if (d < this.d1) {
      this.d2 = this.d1;
      this.d1 = d;
      this.nearest = index;
    } else if (d < this.d2) {
      this.d2 = d;
    }
  }

  // Keeps (q, nearest) as pair number n when it passes the ratio test; returns the new count.
  _acceptNearest(q, polarity, n) {
    if (this.nearest < 0 || !(this.d2 === FAR || this.d1 < this.options.ratio * this.d2)) return n;
    this.pairQuery[n] = q;
    this.pairKey[n] = this.nearest;
    this.pairPolarity[n] = polarity;
    return n + 1;
  }

  // Best-bin-first: descend to a leaf along the nearest centres, queueing the other branches by
  // their centre's distance, then explore up to maxPops queued branches the same way. Leaves'
  // points go to this.candidates; returns how many.
  _searchTree(set, qd, qo, maxPops) {
    const tree = set.tree;
    const kd = set.descriptors;
    this.heapSize = 0;
    let found = 0;
    let node = 0;
    let pops = 0;
    for (;;) {
      // descend from `node`
      while (!tree.isLeaf[node]) {
        const first = tree.first[node];
        const count = tree.count[node];
        let bestChild = -1;
        let bestD = FAR;
        for (let c = 0; c < count; c++) {
          const child = tree.children[first + c];
          const d = hamming(kd, tree.centre[child] * DESCRIPTOR_WORDS, qd, qo);
          if (d < bestD) {
            if (bestChild >= 0) this._push(bestD, bestChild);
            bestD = d;
            bestChild = child;
          } else {
            this._push(d, child);
          }
        }
        node = bestChild;
      }
      const start = tree.first[node];
      const count = tree.count[node];
      if (found + count > this.candidates.length) {
        const bigger = new Int32Array(2 * (found + count));
        bigger.set(this.candidates.subarray(0, found));
        this.candidates = bigger;
      }
      for (let i = 0; i < count; i++) this.candidates[found++] = tree.points[start + i];
      if (pops >= maxPops || this.heapSize === 0) break;
      node = this._pop();
      pops += 1;
    }
    return found;
  }

  _push(d, node) {
    if (this.heapSize === this.heapD.length) {
      const D = new Int32Array(2 * this.heapSize);
      const N = new Int32Array(2 * this.heapSize);
      D.set(this.heapD);
      N.set(this.heapN);
      this.heapD = D;
      this.heapN = N;
    }
    const D = this.heapD;
    const N = this.heapN;
    let i = this.heapSize++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (D[parent] <= d) break;
      D[i] = D[parent];
      N[i] = N[parent];
      i = parent;
    }
    D[i] = d;
    N[i] = node;
  }

  _pop() {
    const D = this.heapD;
    const N = this.heapN;
    const top = N[0];
    const size = --this.heapSize;
    const d = D[size];
    const node = N[size];
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= size) break;
      if (child + 1 < size && D[child + 1] < D[child]) child += 1;
      if (D[child] >= d) break;
      D[i] = D[child];
      N[i] = N[child];
      i = child;
    }
    D[i] = d;
    N[i] = node;
    return top;
  }

  // --- 2. Hough voting ----------------------------------------------------------------------
  // Each pair predicts where the keyframe's centre lands in the frame, and the rotation and
  // (log10) scale between them; the pairs within one bin of the most voted 4-D bin are kept.
  _hough(features, keyframe, n, frameWidth, frameHeight) {
    const maxX = frameWidth * 1.2;
    const minX = -maxX;
    const maxY = frameHeight * 1.2;
    const minY = -maxY;
    const maxDim = Math.max(keyframe.width, keyframe.height);
    const centreX = Math.floor(keyframe.width / 2);
    const centreY = Math.floor(keyframe.height / 2);
    const dims = this.dims;
    for (let i = 0; i < n; i++) {
      const set = this.pairPolarity[i] ? keyframe.maxima : keyframe.minima;
      dims[i] = (features.scale[this.pairQuery[i]] / set.scale[this.pairKey[i]]) * maxDim;
    }
    const sorted = dims.subarray(0, n).sort();
    const binSize = 0.25 * sorted[n >> 1];
    const numX = Math.max(5, Math.ceil((maxX - minX) / binSize));
    const numY = Math.max(5, Math.ceil((maxY - minY) / binSize));
    const numXY = numX * numY;
    const numXYA = numXY * NUM_ANGLE_BINS;
    this._hashClear();
    let bestVotes = 0;
    let bestKey = -1;
    for (let i = 0; i < n; i++) {
      this.valid[i] = 0;
      const q = this.pairQuery[i];
      const set = this.pairPolarity[i] ? keyframe.maxima : keyframe.minima;
      const k = this.pairKey[i];
      let angle = features.angle[q] - set.angle[k];
      if (angle <= -Math.PI) angle += 2 * Math.PI;
      else if (angle > Math.PI) angle -= 2 * Math.PI;
      const scale = features.scale[q] / set.scale[k];
      const c = scale * Math.cos(angle);
      const s = scale * Math.sin(angle);
      const tx = features.x[q] - (c * set.x[k] - s * set.y[k]);
      const ty = features.y[q] - (s * set.x[k] + c * set.y[k]);
      const x = c * centreX - s * centreY + tx;
      const y = s * centreX + c * centreY + ty;
      const logScale = Math.log10(scale);
      if (x < minX || x >= maxX || y < minY || y >= maxY || logScale < -1 || logScale >= 1) continue;
      const fx = (numX * (x - minX)) / (maxX - minX);
      const fy = (numY * (y - minY)) / (maxY - minY);
      const fa = (NUM_ANGLE_BINS * (angle + Math.PI)) / (2 * Math.PI);
      const fs = (NUM_SCALE_BINS * (logScale + 1)) / 2;
      const bx = Math.floor(fx - 0.5);
      const by = Math.floor(fy - 0.5);
      const bs = Math.floor(fs - 0.5);
      const ba = (Math.floor(fa - 0.5) + NUM_ANGLE_BINS) % NUM_ANGLE_BINS;
      if (bx < 0 || bx + 1 >= numX || by < 0 || by + 1 >= numY || bs < 0 || bs + 1 >= NUM_SCALE_BINS) continue;
      this.valid[i] = 1;
      this.binX[i] = fx;
      this.binY[i] = fy;
      this.binA[i] = fa;
      this.binS[i] = fs;
      // Soft votes into the 16 neighbouring bins.
      for (let dx = 0; dx < 2; dx++) {
        for (let dy = 0; dy < 2; dy++) {
          for (let da = 0; da < 2; da++) {
            for (let ds = 0; ds < 2; ds++) {
              const key = bx + dx + (by + dy) * numX + ((ba + da) % NUM_ANGLE_BINS) * numXY + (bs + ds) * numXYA;
              const votes = this._vote(key);
              if (votes > bestVotes || (votes === bestVotes && key < bestKey)) {
                bestVotes = votes;
                bestKey = key;
              }
            }
          }
        }
      }
    }
    if (bestVotes < 3) return 0;
    const bs = Math.floor(bestKey / numXYA);
    const ba = Math.floor((bestKey - bs * numXYA) / numXY);
    const by = Math.floor((bestKey - bs * numXYA - ba * numXY) / numX);
    const bx = bestKey - bs * numXYA - ba * numXY - by * numX;
    let kept = 0;
    for (let i = 0; i < n; i++) {
      if (!this.valid[i]) continue;
      if (Math.abs(this.binX[i] - (bx + 0.5)) >= 1) continue;
      if (Math.abs(this.binY[i] - (by + 0.5)) >= 1) continue;
      if (Math.abs(this.binS[i] - (bs + 0.5)) >= 1) continue;
      const t = Math.abs(this.binA[i] - (ba + 0.5));
      if (Math.min(t, NUM_ANGLE_BINS - t) >= 1) continue;
      this.pairQuery[kept] = this.pairQuery[i];
      this.pairKey[kept] = this.pairKey[i];
      this.pairPolarity[kept] = this.pairPolarity[i];
      kept += 1;
    }
    return kept;
  }

  _hashClear() {
    for (let i = 0; i < this.hashUsedCount; i++) this.hashKeys[this.hashUsed[i]] = -1;
    this.hashUsedCount = 0;
  }

  _vote(key) {
    let slot = Math.imul(key, 0x9e3779b1) >>> (32 - 14);
    for (;;) {
      const k = this.hashKeys[slot];
      if (k === key) return ++this.hashVotes[slot];
      if (k === -1) {
        if (this.hashUsedCount >= HASH_SLOTS / 2) return 0; // table full: ignore the vote
        this.hashKeys[slot] = key;
        this.hashVotes[slot] = 1;
        this.hashUsed[this.hashUsedCount++] = slot;
        return 1;
      }
      slot = (slot + 1) & (HASH_SLOTS - 1);
    }
  }

  // --- 3. Robust homography of the kept pairs (keyframe pixels -> frame pixels) -------------
  _fit(features, keyframe, n, H) {
    const o = this.options;
    const { src, dst } = this;
    for (let i = 0; i < n; i++) {
      const set = this.pairPolarity[i] ? keyframe.maxima : keyframe.minima;
      const k = this.pairKey[i];
      const q = this.pairQuery[i];
      src[2 * i] = set.x[k] + 0.5;
      src[2 * i + 1] = set.y[k] + 0.5;
      dst[2 * i] = features.x[q] + 0.5;
      dst[2 * i + 1] = features.y[q] + 0.5;
    }
    const inliers = this.geo.ransac(src, dst, n, H, {
      threshold: o.inlierThreshold,
      iterations: o.ransacIterations,
      minInliers: Math.min(o.minMatches, o.minInliers),
      width: keyframe.width,
      height: keyframe.height,
      minArea: 64,
    });
    if (!inliers) return 0;
    this.geo.refine(src, dst, this.geo.inliers, inliers, H, { iterations: 4, huber: o.inlierThreshold });
    return inliers;
  }

  // --- Guided second pass ------------------------------------------------------------------
  _guidedPairs(features, keyframe, Hfirst) {
    const o = this.options;
    if (!invert3(Hfirst, this.Hinv)) return 0;
    const r2 = o.guidedRadius * o.guidedRadius;
    const qd = features.descriptors;
    const p = this.pt;
    let n = 0;
    for (let q = 0; q < features.count; q++) {
      const polarity = features.maxima[q];
      const set = polarity ? keyframe.maxima : keyframe.minima;
      applyH(this.Hinv, features.x[q] + 0.5, features.y[q] + 0.5, p);
      const mx = p[0] - 0.5;
      const my = p[1] - 0.5;
      if (!(Number.isFinite(mx) && Number.isFinite(my))) continue;
      this._startNearest();
      for (let k = 0; k < set.count; k++) {
        const dx = set.x[k] - mx;
        const dy = set.y[k] - my;
        if (dx * dx + dy * dy > r2) continue;
        this._consider(hammingBelow(set.descriptors, k * DESCRIPTOR_WORDS, qd, q * DESCRIPTOR_WORDS, this.d2), k);
      }
      n = this._acceptNearest(q, polarity, n);
    }
    return n;
  }
}
