// Frame-to-frame tracking of a found target: where did each of its tracking points go?
//
// The marker's tracking sets are the photo box-filtered to a 128 px and a 256 px short side,
// with points the compiler chose because their 13x13 neighbourhood is distinctive; the marker
// keeps exactly those 13x13 templates. Given last frame's homography (target pixels -> frame
// pixels), each template is looked for around where it should be now:
//   * the frame is sampled *in the template's own geometry* (tracking-image pixels projected by
//     the homography) from the level of a frame pyramid whose pixels are closest in size to
//     a tracking pixel, so templates and samples have the same scale and orientation;
//   * normalised cross-correlation (NCC) at every offset within +-radius tracking pixels, the
//     best one refined to sub-pixel by a parabola through its neighbours;
//   * points whose best NCC is under `minNcc` (occluded, out of frame, blurred away) drop out.
// The coarse set (128 px, search +-10) absorbs the motion; the fine set (256 px, +-3), searched
// around the coarse result, adds precision when the photo is large enough in the frame. The new
// homography is fitted robustly (RANSAC, then Gauss-Newton with Huber weights) on all accepted
// points. MindAR 1.2.5 tracks the 128 px set only, with the same template size and search range.
//
// All buffers are allocated once per tracker; nothing is allocated per frame.

import { applyH, Homographies, multiply3, plausibleQuad } from "./homography.js";

export const TRACKER_DEFAULTS = {
  coarseRadius: 10, // search range, tracking pixels of the 128 px set
  fineRadius: 3, // search range, tracking pixels of the 256 px set
  minNcc: 0.7, // a point counts when its best NCC is above this
  minPoints: 8, // fewer accepted points than this: the target is lost
  inlierThreshold: 3, // frame pixels, for the robust fit
  fineMinScale: 0.6, // use the 256 px set when one of its pixels covers at least this many frame pixels
};

const MAX_LEVELS = 4;

// Frame pyramid: level l is the frame reduced 2^l times by 2x2 means (built on demand).
export class FramePyramid {
  constructor() {
    this.levels = [];
    this.built = 0;
  }

  set(grey, width, height) {
    if (!this.levels.length || this.levels[0].width !== width || this.levels[0].height !== height) {
      this.levels = [{ data: null, width, height }];
      let w = width;
      let h = height;
      for (let l = 1; l < MAX_LEVELS; l++) {
        w >>= 1;
        h >>= 1;
        if (w < 16 || h < 16) break;
        this.levels.push({ data: new Uint8Array(w * h), width: w, height: h });
      }
    }
    this.levels[0].data = grey;
    this.built = 1;
  }

  level(l) {
    const top = Math.min(l, this.levels.length - 1);
    while (this.built <= top) {
      const src = this.levels[this.built - 1];
      const dst = this.levels[this.built];
      const sw = src.width;
      for (let y = 0; y < dst.height; y++) {
        for (let x = 0; x < dst.width; x++) {
          const p = 2 * y * sw + 2 * x;
          dst.data[y * dst.width + x] = (src.data[p] + src.data[p + 1] + src.data[p + sw] + src.data[p + sw + 1] + 2) >> 2;
        }
      }
      this.built += 1;
    }
    return this.levels[top];
  }
}

// Per tracking set: template sums, precomputed once.
function templateStats(set) {
  const n = set.count;
  const side = 2 * set.patchRadius + 1;
  const area = side * side;
  const mean = new Float64Array(n);
  const norm = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    let s2 = 0;
    for (let k = 0; k < area; k++) {
      const v = set.patches[i * area + k];
      s += v;
      s2 += v * v;
    }
    mean[i] = s / area;
    norm[i] = Math.sqrt(Math.max(s2 - (s * s) / area, 0));
  }
  return { mean, norm };
}

export class Tracker {
  constructor(options = {}) {
    this.options = { ...TRACKER_DEFAULTS, ...options };
    const r = Math.max(this.options.coarseRadius, this.options.fineRadius);
    this.maxSide = 2 * (6 + r) + 1;
    this.window = new Float32Array(this.maxSide * this.maxSide);
    this.sum = new Float64Array((this.maxSide + 1) * (this.maxSide + 1));
    this.sum2 = new Float64Array((this.maxSide + 1) * (this.maxSide + 1));
    this.scores = new Float64Array((2 * r + 1) * (2 * r + 1));
    this.capacity = 0;
    this._grow(256);
    this.geo = new Homographies(256);
    this.M = new Float64Array(9);
    this.Hnew = new Float64Array(9);
    this.S = new Float64Array(9);
    this.p = new Float64Array(2);
    this.stats = new WeakMap();
  }

  _grow(n) {
    if (n <= this.capacity) return;
    this.capacity = n;
    this.src = new Float64Array(2 * n);
    this.dst = new Float64Array(2 * n);
  }

  // Follows `target` from H (target -> frame pixels, updated in place) into the frame held by
  // `pyramid`. Returns the number of points supporting the new homography (0: lost).
  track(pyramid, target, H) {
    const o = this.options;
    const frame = pyramid.levels[0];
    this._grow(target.tracking[0].count + target.tracking[1].count + 8);
    let n = 0;
    const coarse = target.tracking[1];
    const fine = target.tracking[0];
    n = this._search(pyramid, coarse, H, o.coarseRadius, 0);
    if (n < o.minPoints) return 0;
    let inliers = this.geo.ransac(this.src, this.dst, n, this.Hnew, {
      threshold: o.inlierThreshold, iterations: 48, minInliers: o.minPoints,
    });
    if (!inliers) return 0;
    this.geo.refine(this.src, this.dst, this.geo.inliers, inliers, this.Hnew, { iterations: 3, huber: 1.5 });
    // Fine set, around the coarse result, when the photo is big enough in the frame.
    if (this._pixelScale(fine, this.Hnew) >= o.fineMinScale) {
      const m = this._search(pyramid, fine, this.Hnew, o.fineRadius, n);
      if (m > n) {
        n = m;
        inliers = this.geo.ransac(this.src, this.dst, n, this.Hnew, {
          threshold: o.inlierThreshold, iterations: 48, minInliers: o.minPoints,
        });
        if (!inliers) return 0;
        this.geo.refine(this.src, this.dst, this.geo.inliers, inliers, this.Hnew, { iterations: 4, huber: 1 });
      }
    }
    if (!plausibleQuad(this.Hnew, target.width, target.height, 64)) return 0;
    // A real photo cannot jump to a very different size between two frames.
    const before = quadArea(H, target.width, target.height);
    const after = quadArea(this.Hnew, target.width, target.height);
    if (!(after > before / 3 && after < before * 3)) return 0;
    if (!(after < 16 * frame.width * frame.height)) return 0;
    H.set(this.Hnew);
    return inliers;
  }

  // Frame pixels covered by one pixel of `set` at the photo's centre, under H.
  _pixelScale(set, H) {
    const p = this.p;
    const cx = set.width / 2 / set.scale;
    const cy = set.height / 2 / set.scale;
    const d = 1 / set.scale;
    applyH(H, cx, cy, p);
    const x0 = p[0];
    const y0 = p[1];
    applyH(H, cx + d, cy, p);
    const ax = p[0] - x0;
    const ay = p[1] - y0;
    applyH(H, cx, cy + d, p);
    const bx = p[0] - x0;
    const by = p[1] - y0;
    return Math.sqrt(Math.abs(ax * by - ay * bx));
  }

  // Searches every point of `set`; appends accepted correspondences (target px -> frame px) to
  // this.src/dst from index `start`; returns the new total.
  _search(pyramid, set, H, radius, start) {
    const o = this.options;
    let stats = this.stats.get(set);
    if (!stats) {
      stats = templateStats(set);
      this.stats.set(set, stats);
    }
    const frame = pyramid.levels[0];
    // M: tracking-image pixels (continuous) -> frame pixels (continuous) = H * S^-1.
    const S = this.S;
    S.fill(0);
    S[0] = 1 / set.scale;
    S[4] = 1 / set.scale;
    S[8] = 1;
    const M = multiply3(H, S, this.M);
    const tr = set.patchRadius;
    const side = 2 * (tr + radius) + 1;
    const tside = 2 * tr + 1;
    const area = tside * tside;
    const win = this.window;
    const sum = this.sum;
    const sum2 = this.sum2;
    const scores = this.scores;
    const span = 2 * radius + 1;
    const p = this.p;
    let n = start;
    for (let i = 0; i < set.count; i++) {
      if (stats.norm[i] < 1e-6) continue;
      const px = set.x[i] + 0.5;
      const py = set.y[i] + 0.5;
      // Local magnification -> pyramid level whose pixels match a tracking pixel best.
      applyH(M, px, py, p);
      const fx = p[0];
      const fy = p[1];
      applyH(M, px + 1, py, p);
      const ax = p[0] - fx;
      const ay = p[1] - fy;
      applyH(M, px, py + 1, p);
      const bx = p[0] - fx;
      const by = p[1] - fy;
      const k = Math.sqrt(Math.abs(ax * by - ay * bx));
      if (!(k > 0) || !Number.isFinite(fx) || !Number.isFinite(fy)) continue;
      const reach = (tr + radius + 1) * k * 1.5;
      if (fx < -reach || fy < -reach || fx > frame.width + reach || fy > frame.height + reach) continue;
      const l = Math.min(Math.max(Math.round(Math.log2(k)), 0), pyramid.levels.length - 1);
      const level = pyramid.level(l);
      const inv = 1 / 2 ** l;
      // Sample the window in tracking-image geometry; count samples that fall outside the frame.
      let outside = 0;
      for (let b = 0; b < side; b++) {
        const v = py + b - tr - radius;
        for (let a = 0; a < side; a++) {
          const u = px + a - tr - radius;
          const w = M[6] * u + M[7] * v + M[8];
          const x = ((M[0] * u + M[1] * v + M[2]) / w) * inv - 0.5;
          const y = ((M[3] * u + M[4] * v + M[5]) / w) * inv - 0.5;
          if (x < 0 || y < 0 || x > level.width - 1 || y > level.height - 1) outside += 1;
          win[b * side + a] = sampleBilinear(level, x, y);
        }
      }
      if (outside > side * side / 4) continue;
      // Integral images of the window and its squares for the per-offset sums.
      const s1 = side + 1;
      for (let a = 0; a <= side; a++) {
        sum[a] = 0;
        sum2[a] = 0;
      }
      for (let b = 0; b < side; b++) {
        let row = 0;
        let row2 = 0;
        sum[(b + 1) * s1] = 0;
        sum2[(b + 1) * s1] = 0;
        for (let a = 0; a < side; a++) {
          const v = win[b * side + a];
          row += v;
          row2 += v * v;
          sum[(b + 1) * s1 + a + 1] = sum[b * s1 + a + 1] + row;
          sum2[(b + 1) * s1 + a + 1] = sum2[b * s1 + a + 1] + row2;
        }
      }
      const tmean = stats.mean[i];
      const tnorm = stats.norm[i];
      const toff = i * area;
      let best = -2;
      let bestDx = 0;
      let bestDy = 0;
      for (let dy = 0; dy < span; dy++) {
        for (let dx = 0; dx < span; dx++) {
          // window block at (dx, dy) .. (dx + tside - 1, dy + tside - 1)
          const ws = sum[(dy + tside) * s1 + dx + tside] - sum[dy * s1 + dx + tside] - sum[(dy + tside) * s1 + dx] + sum[dy * s1 + dx];
          const ws2 = sum2[(dy + tside) * s1 + dx + tside] - sum2[dy * s1 + dx + tside] - sum2[(dy + tside) * s1 + dx] + sum2[dy * s1 + dx];
          const wvar = ws2 - (ws * ws) / area;
          let score = -1;
          if (wvar > 1e-6) {
            let cross = 0;
            for (let b = 0; b < tside; b++) {
              const wrow = (dy + b) * side + dx;
              const trow = toff + b * tside;
              for (let a = 0; a < tside; a++) cross += set.patches[trow + a] * win[wrow + a];
            }
            score = (cross - tmean * ws) / (tnorm * Math.sqrt(wvar));
          }
          scores[dy * span + dx] = score;
          if (score > best) {
            best = score;
            bestDx = dx;
            bestDy = dy;
          }
        }
      }
      if (best < o.minNcc) continue;
      // A peak on the edge of the search range is not a peak.
      if (bestDx === 0 || bestDy === 0 || bestDx === span - 1 || bestDy === span - 1) continue;
      const sx = subpixel(scores[bestDy * span + bestDx - 1], best, scores[bestDy * span + bestDx + 1]);
      const sy = subpixel(scores[(bestDy - 1) * span + bestDx], best, scores[(bestDy + 1) * span + bestDx]);
      applyH(M, px + bestDx - radius + sx, py + bestDy - radius + sy, p);
      if (!Number.isFinite(p[0]) || !Number.isFinite(p[1])) continue;
      this.src[2 * n] = px / set.scale;
      this.src[2 * n + 1] = py / set.scale;
      this.dst[2 * n] = p[0];
      this.dst[2 * n + 1] = p[1];
      n += 1;
    }
    return n;
  }
}

function subpixel(left, centre, right) {
  const d = left - 2 * centre + right;
  if (!(d < 0)) return 0;
  const s = (left - right) / (2 * d);
  return s > 0.5 ? 0.5 : s < -0.5 ? -0.5 : s;
}

function sampleBilinear(level, x, y) {
  const { data, width, height } = level;
  const cx = x < 0 ? 0 : x > width - 1 ? width - 1 : x;
  const cy = y < 0 ? 0 : y > height - 1 ? height - 1 : y;
  const x0 = cx | 0;
  const y0 = cy | 0;
  const x1 = x0 + 1 < width ? x0 + 1 : x0;
  const y1 = y0 + 1 < height ? y0 + 1 : y0;
  const fx = cx - x0;
  const fy = cy - y0;
  const r0 = y0 * width;
  const r1 = y1 * width;
  const top = data[r0 + x0] + (data[r0 + x1] - data[r0 + x0]) * fx;
  const bottom = data[r1 + x0] + (data[r1 + x1] - data[r1 + x0]) * fx;
  return top + (bottom - top) * fy;
}

const areaPoint = new Float64Array(8);
export function quadArea(H, w, h) {
  const q = areaPoint;
  applyH(H, 0, 0, q, 0);
  applyH(H, w, 0, q, 2);
  applyH(H, w, h, q, 4);
  applyH(H, 0, h, q, 6);
  let a = 0;
  for (let i = 0; i < 4; i++) {
    const j = (i + 1) % 4;
    a += q[2 * i] * q[2 * j + 1] - q[2 * j] * q[2 * i + 1];
  }
  return Math.abs(a) / 2;
}
