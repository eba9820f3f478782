// Camera pixels -> the grey frame the pipeline analyses, downscaled to the processing size.
// Pure functions on typed arrays (the worker calls them; Node tests them).
//
// Grey is floor((R + G + B) / 3), the compiler's own conversion, so a printed photo and its
// marker compare like for like. A camera's luma plane (Y of I420/NV12 frames, limited range
// 16-235) is stretched to full range instead: it is what the camera measured before any RGB
// conversion, and far cheaper to read. Downscaling averages the source pixels of each output
// pixel's box (the same box for every row/column, precomputed per size), so every camera pixel
// counts once and nothing aliases.

const THIRDS = new Uint8Array(766);
for (let s = 0; s < THIRDS.length; s++) THIRDS[s] = Math.floor(s / 3);
const LIMITED_TO_FULL = new Uint8Array(256);
for (let y = 0; y < 256; y++) LIMITED_TO_FULL[y] = Math.max(0, Math.min(255, Math.round(((y - 16) * 255) / 219)));

// The processing size of a camera frame: the same aspect, long side at most `maxSide`.
export function processingSize(width, height, maxSide) {
  const scale = Math.min(1, maxSide / Math.max(width, height));
  return { width: Math.max(16, Math.round(width * scale)), height: Math.max(16, Math.round(height * scale)) };
}

// Box bounds along one axis: source index range [lo[i], lo[i + 1]) for output i.
export class BoxBounds {
  constructor(source, target) {
    this.source = source;
    this.target = target;
    this.lo = new Int32Array(target + 1);
    for (let i = 0; i <= target; i++) this.lo[i] = Math.min(source, Math.floor((i * source) / target));
    for (let i = 0; i < target; i++) if (this.lo[i + 1] <= this.lo[i]) this.lo[i + 1] = Math.min(source, this.lo[i] + 1);
  }
}

export class GreyConverter {
  constructor() {
    this.xBounds = null;
    this.yBounds = null;
    this.rowSums = new Uint32Array(0);
  }

  _bounds(sw, sh, dw, dh) {
    if (!this.xBounds || this.xBounds.source !== sw || this.xBounds.target !== dw) this.xBounds = new BoxBounds(sw, dw);
    if (!this.yBounds || this.yBounds.source !== sh || this.yBounds.target !== dh) this.yBounds = new BoxBounds(sh, dh);
    if (this.rowSums.length < dw) this.rowSums = new Uint32Array(dw);
  }

  // One 8-bit plane (stride bytes per row, starting at offset) -> out (dw x dh).
  // limitedRange: the plane is video-range luma (16-235), stretched to 0-255.
  fromPlane(src, offset, stride, sw, sh, out, dw, dh, limitedRange = false) {
    this._bounds(sw, sh, dw, dh);
    const xl = this.xBounds.lo;
    const yl = this.yBounds.lo;
    const sums = this.rowSums;
    const lut = limitedRange ? LIMITED_TO_FULL : null;
    for (let j = 0; j < dh; j++) {
      sums.fill(0, 0, dw);
      for (let y = yl[j]; y < yl[j + 1]; y++) {
        const row = offset + y * stride;
        for (let i = 0; i < dw; i++) {
          let s = 0;
          for (let x = xl[i]; x < xl[i + 1]; x++) s += src[row + x];
          sums[i] += s;
        }
      }
      const rows = yl[j + 1] - yl[j];
      for (let i = 0; i < dw; i++) {
        const v = Math.floor(sums[i] / (rows * (xl[i + 1] - xl[i])));
        out[j * dw + i] = lut ? lut[v] : v;
      }
    }
    return out;
  }

  // Packed 4-byte pixels (RGBA, RGBX, BGRA or BGRX: R, G and B are summed, the order does not
  // matter) -> grey out (dw x dh). stride in bytes.
  fromRGBA(src, offset, stride, sw, sh, out, dw, dh) {
    this._bounds(sw, sh, dw, dh);
    const xl = this.xBounds.lo;
    const yl = this.yBounds.lo;
    const sums = this.rowSums;
    const direct = sw === dw && sh === dh;
    for (let j = 0; j < dh; j++) {
      if (direct) {
        const row = offset + j * stride;
        for (let i = 0; i < dw; i++) {
          const p = row + 4 * i;
          out[j * dw + i] = THIRDS[src[p] + src[p + 1] + src[p + 2]];
        }
        continue;
      }
      sums.fill(0, 0, dw);
      for (let y = yl[j]; y < yl[j + 1]; y++) {
        const row = offset + y * stride;
        for (let i = 0; i < dw; i++) {
          let s = 0;
          for (let x = xl[i]; x < xl[i + 1]; x++) {
            const p = row + 4 * x;
            s += THIRDS[src[p] + src[p + 1] + src[p + 2]];
          }
          sums[i] += s;
        }
      }
      const rows = yl[j + 1] - yl[j];
      for (let i = 0; i < dw; i++) out[j * dw + i] = Math.floor(sums[i] / (rows * (xl[i + 1] - xl[i])));
    }
    return out;
  }
}
