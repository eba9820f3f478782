// Synthetic camera frames with known ground truth, for the tests and the offline benchmark.
//
// A photo (grey pixels) printed on white paper lies on a textured table; a pinhole camera looks
// at it from a pose (tilt, roll, distance, shift). renderFrame() draws the frame the camera
// would see, anti-aliased (a mip level chosen from the local magnification, 2x2 supersampling),
// then optional dimming, Gaussian blur and Gaussian noise. The homography from photo pixels to
// frame pixels is exact, so the photo's true corners in the frame are known.
// Everything is deterministic (seeded generators).

import { readFileSync } from "node:fs";
import { inflateSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import { applyH, invert3 } from "../../static/viewer/arv/homography.js";

export const FIXTURES = fileURLToPath(new URL("../fixtures/", import.meta.url));

export function loadVector(name) {
  const v = JSON.parse(readFileSync(`${FIXTURES}detector-${name}.json`, "utf8"));
  v.grey = new Uint8Array(inflateSync(Buffer.from(v.grey, "base64")));
  return v;
}

export function loadMarkerBytes(name) {
  return new Uint8Array(readFileSync(`${FIXTURES}${name}`));
}

// mulberry32: small, fast, seeded.
export function seededRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function gaussian(random) {
  let u = 0;
  while (u === 0) u = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

// Homography photo pixels -> frame pixels for a camera of horizontal field of view ~53 degrees
// (f = frame width) looking at the photo: `size` is the photo's width as a fraction of the frame
// width when seen frontally at this distance; tiltX/tiltY rotate the print about its horizontal
// and vertical axes (degrees), roll about the optical axis; shiftX/shiftY move it (in photo
// widths) across the view.
export function poseHomography({ frameWidth, frameHeight, photoWidth, photoHeight, size = 0.6, tiltX = 0, tiltY = 0, roll = 0, shiftX = 0, shiftY = 0 }) {
  const f = frameWidth;
  const d = f / (size * frameWidth);
  const rad = Math.PI / 180;
  const [cx, sx] = [Math.cos(tiltX * rad), Math.sin(tiltX * rad)];
  const [cy, sy] = [Math.cos(tiltY * rad), Math.sin(tiltY * rad)];
  const [cz, sz] = [Math.cos(roll * rad), Math.sin(roll * rad)];
  // R = Rz * Rx * Ry
  const Rx = [1, 0, 0, 0, cx, -sx, 0, sx, cx];
  const Ry = [cy, 0, sy, 0, 1, 0, -sy, 0, cy];
  const Rz = [cz, -sz, 0, sz, cz, 0, 0, 0, 1];
  const R = mul3(Rz, mul3(Rx, Ry));
  // Photo pixel (u, v) -> plane point ((u - W/2) / W, (v - H/2) / W, 0); camera = K (R X + t).
  const s = 1 / photoWidth;
  const P = [s, 0, -photoWidth / 2 * s, 0, s, -photoHeight / 2 * s, 0, 0, 1];
  const Rt = [R[0], R[1], shiftX, R[3], R[4], shiftY, R[6], R[7], d];
  const K = [f, 0, frameWidth / 2, 0, f, frameHeight / 2, 0, 0, 1];
  const H = mul3(K, mul3(Rt, P));
  return Float64Array.from(H, (v) => v / H[8]);
}

function mul3(A, B) {
  const r = new Array(9);
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) r[i * 3 + j] = A[i * 3] * B[j] + A[i * 3 + 1] * B[3 + j] + A[i * 3 + 2] * B[6 + j];
  return r;
}

export function corners(H, width, height) {
  const out = [];
  for (const [x, y] of [[0, 0], [width, 0], [width, height], [0, height]]) {
    const p = applyH(H, x, y, [0, 0]);
    out.push([p[0], p[1]]);
  }
  return out;
}

export function cornerError(a, b) {
  let worst = 0;
  for (let i = 0; i < 4; i++) worst = Math.max(worst, Math.hypot(a[i][0] - b[i][0], a[i][1] - b[i][1]));
  return worst;
}

// Mip levels of a grey image (2x2 means), as Float32Arrays.
function mipmaps(grey, width, height) {
  const levels = [{ data: Float32Array.from(grey), width, height }];
  while (levels.length < 6) {
    const prev = levels[levels.length - 1];
    const w = prev.width >> 1;
    const h = prev.height >> 1;
    if (w < 4 || h < 4) break;
    const data = new Float32Array(w * h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const p = 2 * y * prev.width + 2 * x;
        data[y * w + x] = (prev.data[p] + prev.data[p + 1] + prev.data[p + prev.width] + prev.data[p + prev.width + 1]) / 4;
      }
    }
    levels.push({ data, width: w, height: h });
  }
  return levels;
}

function bilinear(level, x, y) {
  const { data, width, height } = level;
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const fx = x - x0;
  const fy = y - y0;
  const cx0 = Math.min(Math.max(x0, 0), width - 1);
  const cx1 = Math.min(Math.max(x0 + 1, 0), width - 1);
  const cy0 = Math.min(Math.max(y0, 0), height - 1);
  const cy1 = Math.min(Math.max(y0 + 1, 0), height - 1);
  const a = data[cy0 * width + cx0];
  const b = data[cy0 * width + cx1];
  const c = data[cy1 * width + cx0];
  const d = data[cy1 * width + cx1];
  return (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy;
}

const mipCache = new WeakMap();
const tableCache = new Map();

// The table under the print: brown-grey wood-like noise, blurred, fixed per size and seed.
function table(width, height, seed) {
  const key = `${width}x${height}:${seed}`;
  if (tableCache.has(key)) return tableCache.get(key);
  const random = seededRandom(seed);
  const raw = new Float32Array(width * height);
  for (let i = 0; i < raw.length; i++) raw[i] = 95 + 28 * gaussian(random);
  const out = boxBlur(boxBlur(raw, width, height, 2), width, height, 2);
  tableCache.set(key, out);
  return out;
}

function boxBlur(src, width, height, r) {
  const tmp = new Float32Array(src.length);
  const out = new Float32Array(src.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let s = 0;
      for (let k = -r; k <= r; k++) s += src[y * width + Math.min(Math.max(x + k, 0), width - 1)];
      tmp[y * width + x] = s / (2 * r + 1);
    }
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let s = 0;
      for (let k = -r; k <= r; k++) s += tmp[Math.min(Math.max(y + k, 0), height - 1) * width + x];
      out[y * width + x] = s / (2 * r + 1);
    }
  }
  return out;
}

function gaussianBlur(src, width, height, sigma) {
  const r = Math.ceil(3 * sigma);
  const kernel = new Float32Array(2 * r + 1);
  let sum = 0;
  for (let k = -r; k <= r; k++) sum += kernel[k + r] = Math.exp(-(k * k) / (2 * sigma * sigma));
  for (let k = 0; k < kernel.length; k++) kernel[k] /= sum;
  const tmp = new Float32Array(src.length);
  const out = new Float32Array(src.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let s = 0;
      for (let k = -r; k <= r; k++) s += kernel[k + r] * src[y * width + Math.min(Math.max(x + k, 0), width - 1)];
      tmp[y * width + x] = s;
    }
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let s = 0;
      for (let k = -r; k <= r; k++) s += kernel[k + r] * tmp[Math.min(Math.max(y + k, 0), height - 1) * width + x];
      out[y * width + x] = s;
    }
  }
  return out;
}

// photo: {grey, width, height}; H: photo pixels -> frame pixels (continuous coordinates).
// Returns a Uint8Array of width * height.
export function renderFrame(photo, H, { width = 640, height = 480, gain = 1, bias = 0, blur = 0, noise = 0, seed = 1, paper = 0.05, tableSeed = 7 } = {}) {
  if (!mipCache.has(photo)) mipCache.set(photo, mipmaps(photo.grey, photo.width, photo.height));
  const mips = mipCache.get(photo);
  const Hi = new Float64Array(9);
  invert3(H, Hi);
  const under = table(width, height, tableSeed);
  const margin = paper * photo.width;
  const img = new Float32Array(width * height);
  const p = [0, 0];
  const sub = [0.25, 0.75];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      // Magnification at this pixel: photo pixels per frame pixel (from the inverse's Jacobian).
      applyH(Hi, x + 0.5, y + 0.5, p);
      const u0 = p[0];
      const v0 = p[1];
      applyH(Hi, x + 1.5, y + 0.5, p);
      const ux = p[0] - u0;
      const vx = p[1] - v0;
      applyH(Hi, x + 0.5, y + 1.5, p);
      const uy = p[0] - u0;
      const vy = p[1] - v0;
      const footprint = Math.sqrt(Math.max(Math.abs(ux * vy - uy * vx), 1e-12));
      const level = Math.min(Math.max(Math.floor(Math.log2(footprint)), 0), mips.length - 1);
      const mip = mips[level];
      const f = 2 ** level;
      let acc = 0;
      for (const sy of sub) {
        for (const sx of sub) {
          applyH(Hi, x + sx, y + sy, p);
          const u = p[0];
          const v = p[1];
          if (u >= 0 && v >= 0 && u < photo.width && v < photo.height) {
            acc += bilinear(mip, u / f - 0.5, v / f - 0.5);
          } else if (u >= -margin && v >= -margin && u < photo.width + margin && v < photo.height + margin) {
            acc += 236; // white paper
          } else {
            acc += under[y * width + x];
          }
        }
      }
      img[y * width + x] = acc / 4;
    }
  }
  const blurred = blur > 0 ? gaussianBlur(img, width, height, blur) : img;
  const random = seededRandom(seed);
  const out = new Uint8Array(width * height);
  for (let i = 0; i < out.length; i++) {
    const v = gain * blurred[i] + bias + (noise > 0 ? noise * gaussian(random) : 0);
    out[i] = v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
  }
  return out;
}
