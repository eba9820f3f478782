// The DoG + FREAK feature detector of MindAR 1.2.5, as our compiler (markers/mindar) runs it.
//
// Camera frames go through the very detector that made the marker's keyframes, so their points
// and descriptors are comparable. Every value the reference kernels store in a float32 tensor is
// stored in a Float32Array here, and everything in between is computed in doubles in the same
// order, so for the same pixels the points and descriptors are bit-identical to the compiler's
// (jstests/detector.test.mjs checks this against vectors exported by markers/mindar).
// The algorithm and its constants: docs/mindar-compiler.md and the project's mindar-format.md.
//
// Pipeline for an image: a Gaussian pyramid (two binomial-filtered images per octave) and its
// differences of Gaussians; extrema of octaves 1..n-2 over 3x3x3 neighbourhoods with contrast,
// border and Hessian edge tests; the 5 strongest per cell of a 10x10 grid; one Newton step of
// sub-pixel localisation; a 36-bin orientation histogram; 666-bit FREAK descriptors.
//
// Performance: all buffers are allocated once per image size and reused for every frame; the
// first octave is filtered in exact integers; extrema are tested only where the DoG passes the
// contrast test, and the upsampled next octave is computed only around those pixels.

const PYRAMID_MIN_SIZE = 8;
const PYRAMID_MAX_OCTAVE = 5;
const LAPLACIAN_SQR_THRESHOLD = 9;
const EDGE_HESSIAN_THRESHOLD = 6.25; // (4 + 1)^2 / 4
const BORDER = 7; // FREAK_EXPANSION_FACTOR: the sampling pattern must fit in the octave image
const FREAK_EXPANSION_FACTOR = 7;
const ORIENTATION_NUM_BINS = 36;
const ORIENTATION_SMOOTHING_ITERATIONS = 5;
const ONE_OVER_2PI = 0.159154943091895;
const SMOOTH_SIDE = 0.274068619061197;
const SMOOTH_CENTRE = 0.451862761877606;
export const DESCRIPTOR_WORDS = 21;
export const FREAK_POINT_COUNT = 37;

// FREAK sampling pattern (x, y): 6 rings of 6 points and the centre, read from a float32 tensor.
const FREAK_XY = new Float32Array([
  -1, 0, -0.5, -0.866025, 0.5, -0.866025, 1, -0, 0.5, 0.866025, -0.5, 0.866025,
  0, 0.930969, -0.806243, 0.465485, -0.806243, -0.465485, -0, -0.930969, 0.806243, -0.465485, 0.806243, 0.465485,
  0.847306, -0, 0.423653, 0.733789, -0.423653, 0.733789, -0.847306, 0, -0.423653, -0.733789, 0.423653, -0.733789,
  -0, -0.741094, 0.641806, -0.370547, 0.641806, 0.370547, 0, 0.741094, -0.641806, 0.370547, -0.641806, -0.370547,
  -0.595502, 0, -0.297751, -0.51572, 0.297751, -0.51572, 0.595502, -0, 0.297751, 0.51572, -0.297751, 0.51572,
  0, 0.362783, -0.314179, 0.181391, -0.314179, -0.181391, -0, -0.362783, 0.314179, -0.181391, 0.314179, 0.181391,
  0, 0,
]);

// The 69 orientation samples within radius 4.5 (row-major, dy outer) and their weights: a
// truncated Taylor series of exp(-d^2 / 18), stored as float32.
const ORIENTATION_DY = new Int8Array(69);
const ORIENTATION_DX = new Int8Array(69);
const ORIENTATION_W = new Float32Array(69);
{
  let n = 0;
  for (let dy = -5; dy <= 5; dy++) {
    for (let dx = -5; dx <= 5; dx++) {
      const d2 = dx * dx + dy * dy;
      if (d2 <= 4.5 * 4.5) {
        const t = d2 * (-1 / 18);
        const poly = 720 + t * (720 + t * (360 + t * (120 + t * (30 + t * (6 + t)))));
        ORIENTATION_DY[n] = dy;
        ORIENTATION_DX[n] = dx;
        ORIENTATION_W[n] = poly * 0.0013888888;
        n += 1;
      }
    }
  }
}

export function octaveCount(width, height) {
  let w = width;
  let h = height;
  let count = 0;
  while (w >= PYRAMID_MIN_SIZE && h >= PYRAMID_MIN_SIZE) {
    w /= 2;
    h /= 2;
    count += 1;
    if (count === PYRAMID_MAX_OCTAVE) break;
  }
  return count;
}

// Detected points, one row per point, in the reference order (grid cell, then strength rank).
// x/y are in image pixels as the .mind stores them; scale is 2^octave.
export class FeatureSet {
  constructor(capacity) {
    this.capacity = capacity;
    this.count = 0;
    this.maxima = new Uint8Array(capacity);
    this.x = new Float64Array(capacity);
    this.y = new Float64Array(capacity);
    this.scale = new Float64Array(capacity);
    this.angle = new Float64Array(capacity);
    this.descriptors = new Uint32Array(capacity * DESCRIPTOR_WORDS);
  }
}

export class Detector {
  // bucketsPerDimension/maxPerBucket: 10 and 5 as in the compiler (at most 500 points).
  constructor(width, height, { bucketsPerDimension = 10, maxPerBucket = 5 } = {}) {
    if (!(width >= 16 && height >= 16)) throw new RangeError(`image too small for the detector: ${width}x${height}`);
    this.width = width;
    this.height = height;
    this.buckets = bucketsPerDimension;
    this.perBucket = maxPerBucket;
    this.octaves = octaveCount(width, height);
    const slots = bucketsPerDimension * bucketsPerDimension * maxPerBucket;
    this.features = new FeatureSet(slots);

    const size = width * height;
    this.int0 = new Int32Array(size);
    this.int1 = new Int32Array(size);
    this.int2 = new Int32Array(size);
    // Per octave k >= 1: size, G_a, G_b, DoG; lower[k] = downsample(DoG_{k-1}) for extrema.
    this.w = [width];
    this.h = [height];
    this.ga = [null];
    this.gb = [null];
    this.dog = [null];
    this.lower = [null];
    let w = width;
    let h = height;
    for (let k = 1; k < this.octaves; k++) {
      w = Math.floor(w / 2);
      h = Math.floor(h / 2);
      this.w.push(w);
      this.h.push(h);
      this.ga.push(new Float32Array(w * h));
      this.gb.push(new Float32Array(w * h));
      this.dog.push(new Float32Array(w * h));
      this.lower.push(new Float32Array(w * h));
    }
    this.tmp = new Float32Array(Math.max(1, this.w[1] * this.h[1]));
    // Pruning: per bucket slot the |score|, score, octave, y, x.
    this.slotAbs = new Float64Array(slots);
    this.slotScore = new Float64Array(slots);
    this.slotOctave = new Int32Array(slots);
    this.slotY = new Float64Array(slots);
    this.slotX = new Float64Array(slots);
    this.upsample3x3 = new Float64Array(9);
    this.hist = new Float64Array(ORIENTATION_NUM_BINS);
    this.hist2 = new Float64Array(ORIENTATION_NUM_BINS);
    this.samples = new Float32Array(FREAK_POINT_COUNT);
  }

  // grey: Uint8Array/Uint8ClampedArray of width*height. Returns this.features (reused).
  detect(grey) {
    if (grey.length < this.width * this.height) throw new RangeError("grey image smaller than the detector's size");
    this._pyramid(grey);
    this.slotAbs.fill(0);
    this.slotScore.fill(0);
    for (let k = 1; k < this.octaves - 1; k++) this._extrema(k);
    return this._describe();
  }

  // --- Gaussian pyramid ------------------------------------------------------------------------
  _pyramid(grey) {
    const W = this.width;
    const H = this.height;
    // Octave 0 in exact integers: G0a = A/256 and G0b = B/65536 with A, B < 2^24, so float32
    // and double hold every value exactly and no rounding happens anywhere (see pyramid.py).
    horizontalPass(grey, this.int0, W, H);
    verticalPass(this.int0, this.int1, W, H, 1); // A = 256 G0a
    horizontalPass(this.int1, this.int0, W, H);
    verticalPass(this.int0, this.int2, W, H, 1); // B = 65536 G0b
    // Octave 1 starts from downsample(G0b); octave 1's extrema need downsample(DoG0).
    const A = this.int1;
    const B = this.int2;
    const w1 = this.w[1];
    const h1 = this.h[1];
    const ga1 = this.ga[1];
    const lower1 = this.lower[1];
    for (let j = 0; j < h1; j++) {
      const r0 = 2 * j * W;
      const r1 = r0 + W;
      for (let i = 0; i < w1; i++) {
        const p00 = r0 + 2 * i;
        const p10 = r1 + 2 * i;
        ga1[j * w1 + i] = down4(B[p00] / 65536, B[p10] / 65536, B[p00 + 1] / 65536, B[p10 + 1] / 65536);
        lower1[j * w1 + i] = down4(
          Math.fround(A[p00] / 256 - B[p00] / 65536),
          Math.fround(A[p10] / 256 - B[p10] / 65536),
          Math.fround(A[p00 + 1] / 256 - B[p00 + 1] / 65536),
          Math.fround(A[p10 + 1] / 256 - B[p10 + 1] / 65536),
        );
      }
    }
    for (let k = 1; k < this.octaves; k++) {
      const w = this.w[k];
      const h = this.h[k];
      binomialFloat(this.ga[k], this.gb[k], this.tmp, w, h);
      const ga = this.ga[k];
      const gb = this.gb[k];
      const dog = this.dog[k];
      for (let p = 0; p < w * h; p++) dog[p] = ga[p] - gb[p];
      if (k + 1 < this.octaves) {
        downsample(gb, w, h, this.ga[k + 1]);
        downsample(dog, w, h, this.lower[k + 1]);
      }
    }
  }

  // --- Extrema of octave k, reduced per 2x2 block and pruned into the buckets ------------------
  _extrema(k) {
    const w = this.w[k];
    const h = this.h[k];
    const blockW = w >> 1;
    const blockH = h >> 1;
    const bucketW = (blockW * 2) / this.buckets;
    const bucketH = (blockH * 2) / this.buckets;
    for (let j = 0; j < blockH; j++) {
      const y0 = 2 * j;
      if (y0 + 1 < BORDER || y0 > h - 1 - BORDER) continue;
      for (let i = 0; i < blockW; i++) {
        const x0 = 2 * i;
        if (x0 + 1 < BORDER || x0 > w - 1 - BORDER) continue;
        // First extremum in the reference's order: (y+1,x), (y,x+1), (y+1,x+1), then (y,x).
        let loc = -1;
        let value = 0;
        if (this._isExtremum(k, y0 + 1, x0)) { loc = 1; value = this.dog[k][(y0 + 1) * w + x0]; }
        else if (this._isExtremum(k, y0, x0 + 1)) { loc = 2; value = this.dog[k][y0 * w + x0 + 1]; }
        else if (this._isExtremum(k, y0 + 1, x0 + 1)) { loc = 3; value = this.dog[k][(y0 + 1) * w + x0 + 1]; }
        else if (this._isExtremum(k, y0, x0)) { loc = 0; value = this.dog[k][y0 * w + x0]; }
        if (loc < 0) continue;
        const encoded = Math.fround(value < 0 ? loc * -1000 + value : loc * 1000 + value);
        if (encoded === 0) continue;
        const score = encoded % 1000;
        const x = x0 + (loc === 2 || loc === 3 ? 1 : 0);
        const y = y0 + (loc === 1 || loc === 3 ? 1 : 0);
        const bucket = Math.floor(y / bucketH) * this.buckets + Math.floor(x / bucketW);
        this._insert(bucket, score, k, y, x);
      }
    }
  }

  _insert(bucket, score, octave, y, x) {
    const n = this.perBucket;
    const base = bucket * n;
    const absScore = Math.abs(score);
    let t = n;
    while (t >= 1 && absScore > this.slotAbs[base + t - 1]) t -= 1;
    if (t >= n) return;
    for (let s = n - 1; s >= t + 1; s--) {
      this.slotAbs[base + s] = this.slotAbs[base + s - 1];
      this.slotScore[base + s] = this.slotScore[base + s - 1];
      this.slotOctave[base + s] = this.slotOctave[base + s - 1];
      this.slotY[base + s] = this.slotY[base + s - 1];
      this.slotX[base + s] = this.slotX[base + s - 1];
    }
    this.slotAbs[base + t] = absScore;
    this.slotScore[base + t] = score;
    this.slotOctave[base + t] = octave;
    this.slotY[base + t] = y;
    this.slotX[base + t] = x;
  }

  _isExtremum(k, y, x) {
    const w = this.w[k];
    const h = this.h[k];
    if (y < BORDER || y > h - 1 - BORDER || x < BORDER || x > w - 1 - BORDER) return false;
    const B = this.dog[k];
    const p = y * w + x;
    const v = B[p];
    if (v * v < LAPLACIAN_SQR_THRESHOLD) return false;
    // Non-strict maximum or minimum of the 3x3x3 neighbourhood (itself included): this level
    // first (cheapest and most selective), then the octave below, then the upsampled one above.
    // Bit 1: still a maximum, bit 2: still a minimum.
    let extremum = neighbourhood(B, p, w, v, EXTREMUM_BOTH);
    if (!extremum) return false;
    extremum = neighbourhood(this.lower[k], p, w, v, extremum);
    if (!extremum) return false;
    const up = this.upsample3x3;
    upsampleAround(this.dog[k + 1], this.w[k + 1], this.h[k + 1], y, x, up);
    if (!neighbourhood(up, 4, 3, v, extremum)) return false;
    const dxx = B[p + 1] + B[p - 1] - 2 * v;
    const dyy = B[p + w] + B[p - w] - 2 * v;
    const dxy = 0.25 * (B[p - w - 1] + B[p + w + 1] - B[p - w + 1] - B[p + w - 1]);
    const det = dxx * dyy - dxy * dxy;
    if (Math.abs(det) < 0.0001) return false;
    const edge = ((dxx + dyy) * (dxx + dyy)) / det;
    return Math.abs(edge) < EDGE_HESSIAN_THRESHOLD;
  }

  // --- Localisation, orientation and descriptors of the kept slots ------------------------------
  _describe() {
    const f = this.features;
    let n = 0;
    const slots = this.slotScore.length;
    for (let s = 0; s < slots; s++) {
      const rawScore = this.slotScore[s];
      if (rawScore === 0) continue;
      const octave = this.slotOctave[s];
      const dog = this.dog[octave];
      const w = this.w[octave];
      const h = this.h[octave];
      let y = this.slotY[s];
      let x = this.slotX[s];
      // One Newton step on the DoG (clamped 3x3 around the integer position).
      const p00 = at(dog, w, h, y - 1, x - 1);
      const p01 = at(dog, w, h, y - 1, x);
      const p02 = at(dog, w, h, y - 1, x + 1);
      const p10 = at(dog, w, h, y, x - 1);
      const p11 = at(dog, w, h, y, x);
      const p12 = at(dog, w, h, y, x + 1);
      const p20 = at(dog, w, h, y + 1, x - 1);
      const p21 = at(dog, w, h, y + 1, x);
      const p22 = at(dog, w, h, y + 1, x + 1);
      const dx = 0.5 * (p12 - p10);
      const dy = 0.5 * (p21 - p01);
      const dxx = p12 + p10 - 2 * p11;
      const dyy = p21 + p01 - 2 * p11;
      const dxy = 0.25 * (p00 + p22 - p02 - p20);
      const det = dxx * dyy - dxy * dxy;
      if (!(Math.abs(det) < 0.0001)) {
        const ux = (dyy * -dx + -dxy * -dy) / det;
        const uy = (-dxy * -dx + dxx * -dy) / det;
        y += uy;
        x += ux;
      }
      const score = Math.fround(rawScore);
      y = Math.fround(y);
      x = Math.fround(x);
      const angle = this._orientation(octave, y, x);
      this._freak(octave, y, x, angle, f.descriptors, n * DESCRIPTOR_WORDS);
      const factor = 2 ** octave;
      f.maxima[n] = score > 0 ? 1 : 0;
      f.x[n] = x * factor + factor / 2 - 0.5;
      f.y[n] = y * factor + factor / 2 - 0.5;
      f.scale[n] = factor;
      f.angle[n] = angle;
      n += 1;
    }
    f.count = n;
    return f;
  }

  _orientation(octave, y, x) {
    const g = this.gb[octave];
    const w = this.w[octave];
    const h = this.h[octave];
    const cy = Math.trunc(y);
    const cx = Math.trunc(x);
    const hist = this.hist;
    hist.fill(0);
    for (let n = 0; n < 69; n++) {
      const py = cy + ORIENTATION_DY[n];
      const px = cx + ORIENTATION_DX[n];
      const gy = at(g, w, h, py + 1, px) - at(g, w, h, py - 1, px);
      const gx = at(g, w, h, py, px + 1) - at(g, w, h, py, px - 1);
      const fbin = Math.fround((Math.atan2(gy, gx) + Math.PI) * ORIENTATION_NUM_BINS * ONE_OVER_2PI);
      const mag = Math.fround(ORIENTATION_W[n] * Math.sqrt(gx * gx + gy * gy));
      const bin = Math.floor(fbin - 0.5);
      const b1 = (bin + ORIENTATION_NUM_BINS) % ORIENTATION_NUM_BINS;
      const b2 = (bin + 1 + ORIENTATION_NUM_BINS) % ORIENTATION_NUM_BINS;
      const w2 = fbin - bin - 0.5;
      const w1 = w2 * -1 + 1;
      hist[b1] += w1 * mag;
      hist[b2] += w2 * mag;
    }
    let cur = hist;
    let next = this.hist2;
    for (let b = 0; b < ORIENTATION_NUM_BINS; b++) cur[b] = Math.fround(cur[b]);
    for (let it = 0; it < ORIENTATION_SMOOTHING_ITERATIONS; it++) {
      for (let b = 0; b < ORIENTATION_NUM_BINS; b++) {
        const prev = cur[(b + ORIENTATION_NUM_BINS - 1) % ORIENTATION_NUM_BINS];
        const nxt = cur[(b + 1) % ORIENTATION_NUM_BINS];
        next[b] = Math.fround(SMOOTH_SIDE * prev + SMOOTH_CENTRE * cur[b] + SMOOTH_SIDE * nxt);
      }
      const t = cur;
      cur = next;
      next = t;
    }
    let m = 0;
    for (let b = 1; b < ORIENTATION_NUM_BINS; b++) if (cur[b] > cur[m]) m = b;
    const p11 = cur[(m - 1 + ORIENTATION_NUM_BINS) % ORIENTATION_NUM_BINS];
    const p21 = cur[m];
    const p31 = cur[(m + 1) % ORIENTATION_NUM_BINS];
    const p10 = m - 1;
    const p20 = m;
    // Parabola through the peak and its neighbours (denominators 2, -2 and -1).
    let A = (p31 - p21) / 2 - (p11 - p21) / -2;
    if (Number.isNaN(A)) A = 0;
    const B = (p11 - p21 + A * (p20 * p20 - p10 * p10)) / -1;
    let fbin = -B / (2 * A);
    if (Number.isNaN(fbin)) fbin = 0;
    return Math.fround((2 * Math.PI * (fbin + 0.5)) / ORIENTATION_NUM_BINS - Math.PI);
  }

  _freak(octave, y, x, angle, out, offset) {
    const g = this.gb[octave];
    const w = this.w[octave];
    const h = this.h[octave];
    const c = FREAK_EXPANSION_FACTOR * Math.cos(angle);
    const s = FREAK_EXPANSION_FACTOR * Math.sin(angle);
    const v = this.samples;
    for (let n = 0; n < FREAK_POINT_COUNT; n++) {
      const fx = FREAK_XY[2 * n];
      const fy = FREAK_XY[2 * n + 1];
      const yp = y + fx * s + fy * c;
      const xp = x + fx * c + fy * -s;
      const x0 = Math.floor(xp);
      const y0 = Math.floor(yp);
      const x1 = x0 + 1;
      const y1 = y0 + 1;
      v[n] = (x1 - xp) * (y1 - yp) * at(g, w, h, y0, x0)
        + (xp - x0) * (y1 - yp) * at(g, w, h, y0, x1)
        + (x1 - xp) * (yp - y0) * at(g, w, h, y1, x0)
        + (xp - x0) * (yp - y0) * at(g, w, h, y1, x1);
    }
    // 666 comparisons v[a] < v[b] + 0.01 (a < b, a outer), MSB first in 21 words.
    let word = 0;
    let bit = 0;
    let k = offset;
    for (let a = 0; a < FREAK_POINT_COUNT; a++) {
      const va = v[a];
      for (let b = a + 1; b < FREAK_POINT_COUNT; b++) {
        word = (word << 1) | (va < v[b] + 0.01 ? 1 : 0);
        bit += 1;
        if (bit === 32) {
          out[k++] = word >>> 0;
          word = 0;
          bit = 0;
        }
      }
    }
    out[k] = (word << (32 - bit)) >>> 0; // 666 = 20 * 32 + 26: the last word's low 6 bits are 0
  }
}

const EXTREMUM_BOTH = 3;

// Whether v is still a (non-strict) maximum (bit 1) / minimum (bit 2) of the 3x3 block of
// `image` (row length w) centred on index p, given what it was (flags).
function neighbourhood(image, p, w, v, flags) {
  for (let dy = -1; dy <= 1; dy++) {
    for (let dx = -1; dx <= 1; dx++) {
      const other = image[p + dy * w + dx];
      if (v < other) flags &= 2;
      if (v > other) flags &= 1;
    }
  }
  return flags;
}

function at(image, w, h, y, x) {
  const yy = y < 0 ? 0 : y > h - 1 ? h - 1 : y;
  const xx = x < 0 ? 0 : x > w - 1 ? w - 1 : x;
  return image[yy * w + xx];
}

// Mean of a 2x2 block, accumulated in float32 like the reference downsampling kernel.
function down4(a, b, c, d) {
  let s = Math.fround(a * 0.25);
  s = Math.fround(s + Math.fround(b * 0.25));
  s = Math.fround(s + Math.fround(c * 0.25));
  return Math.fround(s + Math.fround(d * 0.25));
}

function downsample(src, w, h, out) {
  const ow = Math.floor(w / 2);
  const oh = Math.floor(h / 2);
  for (let j = 0; j < oh; j++) {
    const r0 = 2 * j * w;
    const r1 = r0 + w;
    for (let i = 0; i < ow; i++) {
      out[j * ow + i] = down4(src[r0 + 2 * i], src[r1 + 2 * i], src[r0 + 2 * i + 1], src[r1 + 2 * i + 1]);
    }
  }
}

// [1,4,6,4,1] along the rows, edges repeated: the sum in doubles in the reference's order, stored
// in `out` (an Int32Array for the exact first octave, a Float32Array otherwise). The two pixels
// at each end read clamped neighbours; the interior needs no test.
function horizontalPass(src, out, w, h) {
  for (let y = 0; y < h; y++) {
    const r = y * w;
    const end = r + w - 2;
    for (let x = 0; x < 2 && x < w; x++) out[r + x] = clampedTaps(src, r, w, x);
    for (let p = r + 2; p < end; p++) out[p] = src[p - 2] + src[p - 1] * 4 + src[p] * 6 + src[p + 1] * 4 + src[p + 2];
    for (let x = Math.max(2, w - 2); x < w; x++) out[r + x] = clampedTaps(src, r, w, x);
  }
}

function clampedTaps(src, r, w, x) {
  const xm2 = r + (x - 2 < 0 ? 0 : x - 2);
  const xm1 = r + (x - 1 < 0 ? 0 : x - 1);
  const xp1 = r + (x + 1 > w - 1 ? w - 1 : x + 1);
  const xp2 = r + (x + 2 > w - 1 ? w - 1 : x + 2);
  return src[xm2] + src[xm1] * 4 + src[r + x] * 6 + src[xp1] * 4 + src[xp2];
}

// [1,4,6,4,1] down the columns, edges repeated, divided by `divisor` (256 in the reference
// filter, 1 for the integer first octave), stored in `out`.
function verticalPass(src, out, w, h, divisor) {
  for (let y = 0; y < h; y++) {
    const m2 = (y - 2 < 0 ? 0 : y - 2) * w;
    const m1 = (y - 1 < 0 ? 0 : y - 1) * w;
    const c = y * w;
    const p1 = (y + 1 > h - 1 ? h - 1 : y + 1) * w;
    const p2 = (y + 2 > h - 1 ? h - 1 : y + 2) * w;
    for (let x = 0; x < w; x++) {
      out[c + x] = (src[m2 + x] + src[m1 + x] * 4 + src[c + x] * 6 + src[p1 + x] * 4 + src[p2 + x]) / divisor;
    }
  }
}

// The reference binomial filter on a float32 image: rounded to float32 after each pass.
function binomialFloat(src, out, tmp, w, h) {
  horizontalPass(src, tmp, w, h);
  verticalPass(tmp, out, w, h, 256);
}

// The reference 2x bilinear upsampling of the octave above, evaluated only at the 3x3 pixels
// around (y, x) of the current octave (row-major into out).
function upsampleAround(src, sw, sh, y, x, out) {
  let n = 0;
  for (let j = y - 1; j <= y + 1; j++) {
    const sj = Math.fround(0.5 * j) - 0.25;
    const sj0 = Math.floor(sj);
    const sj1 = Math.ceil(sj);
    const r0 = (sj0 < 0 ? 0 : sj0 > sh - 1 ? sh - 1 : sj0) * sw;
    const r1 = (sj1 < 0 ? 0 : sj1 > sh - 1 ? sh - 1 : sj1) * sw;
    for (let i = x - 1; i <= x + 1; i++) {
      const si = Math.fround(0.5 * i) - 0.25;
      const si0 = Math.floor(si);
      const si1 = Math.ceil(si);
      const c0 = si0 < 0 ? 0 : si0 > sw - 1 ? sw - 1 : si0;
      const c1 = si1 < 0 ? 0 : si1 > sw - 1 ? sw - 1 : si1;
      let sum = 0;
      sum += src[r0 + c0] * Math.fround((si1 - si) * (sj1 - sj));
      sum += src[r1 + c0] * Math.fround((si1 - si) * (sj - sj0));
      sum += src[r0 + c1] * Math.fround((si - si0) * (sj1 - sj));
      sum += src[r1 + c1] * Math.fround((si - si0) * (sj - sj0));
      out[n++] = Math.fround(sum);
    }
  }
}
