// The One Euro filter (Casiez, Roussel and Vogel, CHI 2012): a low-pass filter whose cutoff rises
// with the signal's speed, so a still photo's corners stop trembling while a moving one is
// followed without lag. Applied to the 8 corner coordinates (camera pixels) independently.
//
//   minCutoff (Hz)  cutoff when still: lower = less jitter, more lag when motion starts
//   beta            how fast the cutoff rises with speed (per pixel/second): higher = less lag
//   dCutoff (Hz)    cutoff of the speed estimate itself
//
// The defaults are the offline benchmark's pick (bench/arv_tracker_offline.mjs, docs/benchmarks.md):
// the least jitter on a still print whose lag keeps a hand-held sequence's corner error within
// +0.5 px (median) of the unfiltered corners. Still, the cutoff is 0.1 Hz (strong smoothing);
// moving at v px/s it is 0.1 + v Hz, so motion passes through. Measured on synthetic frames:
// phase B re-measures them on camera clips in the browsers.

export const FILTER_DEFAULTS = { minCutoff: 0.1, beta: 1, dCutoff: 1 };

function alpha(cutoff, dt) {
  const tau = 1 / (2 * Math.PI * cutoff);
  return 1 / (1 + tau / dt);
}

export class OneEuroFilter {
  constructor(size, options = {}) {
    this.size = size;
    this.configure(options);
    this.x = new Float64Array(size);
    this.dx = new Float64Array(size);
    this.t = 0;
    this.ready = false;
  }

  configure({ minCutoff = FILTER_DEFAULTS.minCutoff, beta = FILTER_DEFAULTS.beta, dCutoff = FILTER_DEFAULTS.dCutoff } = {}) {
    this.minCutoff = minCutoff;
    this.beta = beta;
    this.dCutoff = dCutoff;
  }

  reset() {
    this.ready = false;
  }

  // values: the new sample (read), out: the filtered values (written; may be `values`);
  // timeMs: the sample's time in milliseconds.
  filter(values, timeMs, out = values) {
    const t = timeMs / 1000;
    if (!this.ready || !(t > this.t)) {
      // First sample (or a clock that did not advance): nothing to smooth against.
      if (!this.ready) {
        for (let i = 0; i < this.size; i++) {
          this.x[i] = values[i];
          this.dx[i] = 0;
        }
        this.ready = true;
        this.t = t;
      }
      for (let i = 0; i < this.size; i++) out[i] = this.x[i];
      return out;
    }
    const dt = t - this.t;
    this.t = t;
    const ad = alpha(this.dCutoff, dt);
    for (let i = 0; i < this.size; i++) {
      const dx = (values[i] - this.x[i]) / dt;
      this.dx[i] += ad * (dx - this.dx[i]);
      const cutoff = this.minCutoff + this.beta * Math.abs(this.dx[i]);
      const a = alpha(cutoff, dt);
      this.x[i] += a * (values[i] - this.x[i]);
      out[i] = this.x[i];
    }
    return out;
  }
}
