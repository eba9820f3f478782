// Planar homographies: solving from point pairs, robust estimation, refinement, geometry checks.
//
// A homography H is a Float64Array(9), row-major, with H[8] = 1: (x, y) -> ((H0 x + H1 y + H2) / w,
// (H3 x + H4 y + H5) / w), w = H6 x + H7 y + 1. Point lists are interleaved Float64Arrays
// [x0, y0, x1, y1, ...]. Every function works in preallocated buffers (a Homographies instance
// per thread): no allocation per call.

// The MSVC rand() LCG (seed 1234), the deterministic generator MindAR uses for its RANSAC too.
export class Lcg {
  constructor(seed = 1234) {
    this.seed = seed;
  }
  reset(seed = 1234) {
    this.seed = seed;
  }
  next(max) {
    this.seed = (214013 * this.seed + 2531011) % 2147483648;
    return ((this.seed >> 16) & 0x7fff) % max;
  }
}

export function applyH(H, x, y, out, o = 0) {
  const w = H[6] * x + H[7] * y + H[8];
  out[o] = (H[0] * x + H[1] * y + H[2]) / w;
  out[o + 1] = (H[3] * x + H[4] * y + H[5]) / w;
  return out;
}

const scratch = new Float64Array(9);

// out = A^-1 (out may be A); false when A is singular.
export function invert3(A, out) {
  const c0 = A[4] * A[8] - A[5] * A[7];
  const c1 = A[5] * A[6] - A[3] * A[8];
  const c2 = A[3] * A[7] - A[4] * A[6];
  const det = A[0] * c0 + A[1] * c1 + A[2] * c2;
  if (!Number.isFinite(det) || Math.abs(det) < 1e-12) return false;
  const inv = 1 / det;
  const r = scratch;
  r[0] = c0 * inv; r[1] = (A[2] * A[7] - A[1] * A[8]) * inv; r[2] = (A[1] * A[5] - A[2] * A[4]) * inv;
  r[3] = c1 * inv; r[4] = (A[0] * A[8] - A[2] * A[6]) * inv; r[5] = (A[2] * A[3] - A[0] * A[5]) * inv;
  r[6] = c2 * inv; r[7] = (A[1] * A[6] - A[0] * A[7]) * inv; r[8] = (A[0] * A[4] - A[1] * A[3]) * inv;
  for (let i = 0; i < 9; i++) out[i] = r[i];
  return true;
}

// out = A B (out may be A or B).
export function multiply3(A, B, out) {
  const r = scratch;
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) r[i * 3 + j] = A[i * 3] * B[j] + A[i * 3 + 1] * B[3 + j] + A[i * 3 + 2] * B[6 + j];
  }
  for (let i = 0; i < 9; i++) out[i] = r[i];
  return out;
}

export function normalizeH(H) {
  const s = H[8];
  if (!s || !Number.isFinite(s)) return false;
  for (let i = 0; i < 9; i++) H[i] /= s;
  return true;
}

function cross(ax, ay, bx, by, cx, cy) {
  return (bx - ax) * (cy - ay) - (by - ay) * (cx - ax);
}

// The image of the rectangle (0,0)-(w,h) under H is a convex quadrilateral with the same
// orientation (no mirror), each corner in front of the camera (w > 0), and an area of at least
// minArea: what a real photo seen by a camera can look like.
const quad = new Float64Array(8);
export function plausibleQuad(H, w, h, minArea = 1) {
  const q = quad;
  for (let i = 0; i < 4; i++) {
    const x = i === 1 || i === 2 ? w : 0;
    const y = i >= 2 ? h : 0;
    if (!(H[6] * x + H[7] * y + H[8] > 1e-9)) return false;
    applyH(H, x, y, q, 2 * i);
  }
  let area = 0;
  for (let i = 0; i < 4; i++) {
    const a = (i + 3) % 4;
    const c = (i + 1) % 4;
    if (!(cross(q[2 * a], q[2 * a + 1], q[2 * i], q[2 * i + 1], q[2 * c], q[2 * c + 1]) > 0)) return false;
    area += q[2 * i] * q[2 * c + 1] - q[2 * c] * q[2 * i + 1];
  }
  return area / 2 >= minArea && Number.isFinite(area);
}

// Solves the n x n system M v = b in place (Gaussian elimination, partial pivoting).
function solveLinear(M, b, n) {
  for (let col = 0; col < n; col++) {
    let pivot = col;
    let best = Math.abs(M[col * n + col]);
    for (let r = col + 1; r < n; r++) {
      const v = Math.abs(M[r * n + col]);
      if (v > best) { best = v; pivot = r; }
    }
    if (!(best > 1e-14)) return false;
    if (pivot !== col) {
      for (let k = 0; k < n; k++) {
        const t = M[col * n + k]; M[col * n + k] = M[pivot * n + k]; M[pivot * n + k] = t;
      }
      const t = b[col]; b[col] = b[pivot]; b[pivot] = t;
    }
    const d = M[col * n + col];
    for (let r = col + 1; r < n; r++) {
      const f = M[r * n + col] / d;
      if (f === 0) continue;
      for (let k = col; k < n; k++) M[r * n + k] -= f * M[col * n + k];
      b[r] -= f * b[col];
    }
  }
  for (let r = n - 1; r >= 0; r--) {
    let s = b[r];
    for (let k = r + 1; k < n; k++) s -= M[r * n + k] * b[k];
    b[r] = s / M[r * n + r];
    if (!Number.isFinite(b[r])) return false;
  }
  return true;
}

export class Homographies {
  constructor(capacity = 1024) {
    this.capacity = capacity;
    this.ns = new Float64Array(2 * capacity); // normalised source points
    this.nd = new Float64Array(2 * capacity);
    this.M = new Float64Array(64);
    this.b = new Float64Array(8);
    this.Hn = new Float64Array(9);
    this.T = new Float64Array(9);
    this.Ti = new Float64Array(9);
    this.sample = new Int32Array(4);
    this.best = new Float64Array(9);
    this.cand = new Float64Array(9);
    this.inliers = new Int32Array(capacity);
    this.perm = new Int32Array(capacity);
    this.row = new Float64Array(8);
    this.Ju = new Float64Array(8);
    this.Jv = new Float64Array(8);
    this.inv = new Float64Array(9);
    this.rng = new Lcg();
  }

  ensure(n) {
    if (n <= this.capacity) return;
    this.capacity = n;
    this.ns = new Float64Array(2 * n);
    this.nd = new Float64Array(2 * n);
    this.inliers = new Int32Array(n);
    this.perm = new Int32Array(n);
  }

  // Similarity normalising the selected points (centroid 0, mean distance sqrt 2), into T;
  // writes the normalised points to out. idx: Int32Array of point numbers, or null for 0..n-1.
  _normalise(pts, idx, n, out, T) {
    let mx = 0;
    let my = 0;
    for (let i = 0; i < n; i++) {
      const k = idx ? idx[i] : i;
      mx += pts[2 * k];
      my += pts[2 * k + 1];
    }
    mx /= n;
    my /= n;
    let d = 0;
    for (let i = 0; i < n; i++) {
      const k = idx ? idx[i] : i;
      d += Math.hypot(pts[2 * k] - mx, pts[2 * k + 1] - my);
    }
    const s = d > 0 ? (Math.SQRT2 * n) / d : 1;
    for (let i = 0; i < n; i++) {
      const k = idx ? idx[i] : i;
      out[2 * i] = (pts[2 * k] - mx) * s;
      out[2 * i + 1] = (pts[2 * k + 1] - my) * s;
    }
    T[0] = s; T[1] = 0; T[2] = -s * mx;
    T[3] = 0; T[4] = s; T[5] = -s * my;
    T[6] = 0; T[7] = 0; T[8] = 1;
  }

  // Least-squares (algebraic, normalised) homography mapping src[idx] to dst[idx] into H.
  solve(src, dst, idx, n, H) {
    if (n < 4) return false;
    this.ensure(n);
    const { ns, nd, M, b } = this;
    this._normalise(src, idx, n, ns, this.T);
    this._normalise(dst, idx, n, nd, this.Ti);
    M.fill(0);
    b.fill(0);
    const rowVals = this.row;
    for (let i = 0; i < n; i++) {
      const x = ns[2 * i];
      const y = ns[2 * i + 1];
      const u = nd[2 * i];
      const v = nd[2 * i + 1];
      // u = h0 x + h1 y + h2 - h6 x u - h7 y u ; v = h3 x + h4 y + h5 - h6 x v - h7 y v
      for (let e = 0; e < 2; e++) {
        rowVals.fill(0);
        const target = e === 0 ? u : v;
        const o = e === 0 ? 0 : 3;
        rowVals[o] = x;
        rowVals[o + 1] = y;
        rowVals[o + 2] = 1;
        rowVals[6] = -x * target;
        rowVals[7] = -y * target;
        for (let r = 0; r < 8; r++) {
          const vr = rowVals[r];
          if (vr === 0) continue;
          b[r] += vr * target;
          for (let c = 0; c < 8; c++) M[r * 8 + c] += vr * rowVals[c];
        }
      }
    }
    if (!solveLinear(M, b, 8)) return false;
    const Hn = this.Hn;
    for (let i = 0; i < 8; i++) Hn[i] = b[i];
    Hn[8] = 1;
    // H = Tdst^-1 Hn Tsrc
    const inv = this.inv;
    if (!invert3(this.Ti, inv)) return false;
    multiply3(Hn, this.T, H);
    multiply3(inv, H, H);
    return normalizeH(H) && H.every(Number.isFinite);
  }

  // Gauss-Newton on the reprojection error in the destination, with Huber weights (scale
  // `huber` pixels), starting from H. Updates H in place; returns the RMS weighted error.
  refine(src, dst, idx, n, H, { iterations = 5, huber = 2 } = {}) {
    if (n < 4) return Infinity;
    const M = this.M;
    const b = this.b;
    let rms = Infinity;
    for (let it = 0; it < iterations; it++) {
      M.fill(0);
      b.fill(0);
      let cost = 0;
      let wsum = 0;
      for (let i = 0; i < n; i++) {
        const k = idx ? idx[i] : i;
        const x = src[2 * k];
        const y = src[2 * k + 1];
        const w = H[6] * x + H[7] * y + 1;
        if (!(w > 1e-9)) continue;
        const u = (H[0] * x + H[1] * y + H[2]) / w;
        const v = (H[3] * x + H[4] * y + H[5]) / w;
        const ru = dst[2 * k] - u;
        const rv = dst[2 * k + 1] - v;
        const r = Math.hypot(ru, rv);
        const weight = r <= huber ? 1 : huber / r;
        cost += weight * r * r;
        wsum += weight;
        const iw = 1 / w;
        // d(u)/dh = [x, y, 1, 0, 0, 0, -u x, -u y] / w ; d(v)/dh = [0, 0, 0, x, y, 1, -v x, -v y] / w
        const Ju = this.Ju;
        const Jv = this.Jv;
        Ju[0] = x * iw; Ju[1] = y * iw; Ju[2] = iw; Ju[3] = 0; Ju[4] = 0; Ju[5] = 0;
        Ju[6] = -u * x * iw; Ju[7] = -u * y * iw;
        Jv[0] = 0; Jv[1] = 0; Jv[2] = 0; Jv[3] = x * iw; Jv[4] = y * iw; Jv[5] = iw;
        Jv[6] = -v * x * iw; Jv[7] = -v * y * iw;
        for (let r1 = 0; r1 < 8; r1++) {
          b[r1] += weight * (Ju[r1] * ru + Jv[r1] * rv);
          for (let c = r1; c < 8; c++) M[r1 * 8 + c] += weight * (Ju[r1] * Ju[c] + Jv[r1] * Jv[c]);
        }
      }
      rms = wsum > 0 ? Math.sqrt(cost / wsum) : Infinity;
      for (let r1 = 0; r1 < 8; r1++) {
        for (let c = 0; c < r1; c++) M[r1 * 8 + c] = M[c * 8 + r1];
        M[r1 * 8 + r1] *= 1 + 1e-9; // keeps the system solvable when a parameter is unobserved
      }
      if (!solveLinear(M, b, 8)) break;
      let step = 0;
      for (let i = 0; i < 8; i++) {
        H[i] += b[i];
        step += Math.abs(b[i]);
      }
      if (step < 1e-12) break;
    }
    return rms;
  }

  // RANSAC: random 4-point samples (deterministic LCG, seed 1234 at each call), the hypothesis
  // with the most pairs within `threshold` pixels wins, then a least-squares fit on its inliers
  // is iterated to convergence. Returns the inlier count (0 if none) and writes H and
  // this.inliers[0..count).
  // width/height: when given, a hypothesis must map the rectangle (0,0)-(width,height) of the
  // source to a plausible quadrilateral of at least minArea square pixels.
  ransac(src, dst, n, H, { threshold = 3, iterations = 96, minInliers = 6, width = 0, height = 0, minArea = 1 } = {}) {
    if (n < 4) return 0;
    this.ensure(n);
    const rng = this.rng;
    rng.reset(1234);
    const t2 = threshold * threshold;
    const sample = this.sample;
    const cand = this.cand;
    const best = this.best;
    let bestCount = 0;
    let bestCost = Infinity;
    const perm = this.perm;
    for (let i = 0; i < n; i++) perm[i] = i;
    for (let it = 0; it < iterations; it++) {
      // Four distinct pairs: a partial Fisher-Yates shuffle of the running permutation.
      for (let s = 0; s < 4; s++) {
        const k = s + rng.next(n - s);
        const t = perm[s];
        perm[s] = perm[k];
        perm[k] = t;
        sample[s] = perm[s];
      }
      if (!this._consistentSample(src, dst, sample)) continue;
      if (!this.solve(src, dst, sample, 4, cand)) continue;
      if (width && !plausibleQuad(cand, width, height, minArea)) continue;
      let count = 0;
      let cost = 0;
      for (let i = 0; i < n; i++) {
        const e = reprojection2(cand, src, dst, i);
        if (e <= t2) {
          count += 1;
          cost += e;
        } else {
          cost += t2;
        }
      }
      if (count > bestCount || (count === bestCount && cost < bestCost)) {
        bestCount = count;
        bestCost = cost;
        best.set(cand);
      }
    }
    if (bestCount < Math.max(4, minInliers)) return 0;
    H.set(best);
    // Refit on the inliers until the set stops growing.
    let count = this._collect(H, src, dst, n, t2);
    for (let round = 0; round < 4; round++) {
      if (!this.solve(src, dst, this.inliers, count, cand)) break;
      this.refine(src, dst, this.inliers, count, cand, { iterations: 3, huber: threshold });
      const next = countInliers(cand, src, dst, n, t2);
      if (next < count) break;
      H.set(cand);
      const previous = count;
      count = this._collect(H, src, dst, n, t2);
      if (count === previous) break;
    }
    return count >= minInliers ? count : 0;
  }

  _collect(H, src, dst, n, t2) {
    let count = 0;
    for (let i = 0; i < n; i++) if (reprojection2(H, src, dst, i) <= t2) this.inliers[count++] = i;
    return count;
  }

  // The four source points and their destinations turn the same way around (no fold-over).
  _consistentSample(src, dst, s) {
    for (let i = 0; i < 4; i++) {
      const a = s[i];
      const b = s[(i + 1) % 4];
      const c = s[(i + 2) % 4];
      const ss = cross(src[2 * a], src[2 * a + 1], src[2 * b], src[2 * b + 1], src[2 * c], src[2 * c + 1]);
      const dd = cross(dst[2 * a], dst[2 * a + 1], dst[2 * b], dst[2 * b + 1], dst[2 * c], dst[2 * c + 1]);
      if (ss > 0 !== dd > 0 || ss === 0 || dd === 0) return false;
    }
    return true;
  }
}

export function reprojection2(H, src, dst, i) {
  const x = src[2 * i];
  const y = src[2 * i + 1];
  const w = H[6] * x + H[7] * y + H[8];
  if (!(w > 1e-9)) return Infinity;
  const du = (H[0] * x + H[1] * y + H[2]) / w - dst[2 * i];
  const dv = (H[3] * x + H[4] * y + H[5]) / w - dst[2 * i + 1];
  return du * du + dv * dv;
}

function countInliers(H, src, dst, n, t2) {
  let count = 0;
  for (let i = 0; i < n; i++) if (reprojection2(H, src, dst, i) <= t2) count += 1;
  return count;
}

// Camera pose from a homography mapping target pixels to camera pixels, for a pinhole camera
// K = [[f, 0, cx], [0, f, cy], [0, 0, 1]]: rotation columns r1, r2 from K^-1 H, r3 = r1 x r2,
// translation scaled by their mean norm. Returns a 3x4 row-major [R | t] (Float64Array(12)), the
// target lying in its z = 0 plane, in target pixels; null when H is degenerate.
export function poseFromHomography(H, f, cx, cy) {
  const a = [
    (H[0] - cx * H[6]) / f, (H[1] - cx * H[7]) / f, (H[2] - cx * H[8]) / f,
    (H[3] - cy * H[6]) / f, (H[4] - cy * H[7]) / f, (H[5] - cy * H[8]) / f,
    H[6], H[7], H[8],
  ];
  const n1 = Math.hypot(a[0], a[3], a[6]);
  const n2 = Math.hypot(a[1], a[4], a[7]);
  if (!(n1 > 0 && n2 > 0)) return null;
  // The target is in front of the camera: t_z > 0.
  const sign = a[8] < 0 ? -1 : 1;
  const r1 = [(sign * a[0]) / n1, (sign * a[3]) / n1, (sign * a[6]) / n1];
  const r2 = [(sign * a[1]) / n2, (sign * a[4]) / n2, (sign * a[7]) / n2];
  const r3 = [r1[1] * r2[2] - r1[2] * r2[1], r1[2] * r2[0] - r1[0] * r2[2], r1[0] * r2[1] - r1[1] * r2[0]];
  const n3 = Math.hypot(r3[0], r3[1], r3[2]);
  const tn = (n1 + n2) / 2;
  return Float64Array.from([
    r1[0], r2[0], r3[0] / n3, (sign * a[2]) / tn,
    r1[1], r2[1], r3[1] / n3, (sign * a[5]) / tn,
    r1[2], r2[2], r3[2] / n3, (sign * a[8]) / tn,
  ]);
}
