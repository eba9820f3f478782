// The One Euro filter (Casiez, Roussel and Vogel, CHI 2012): a low-pass filter whose cutoff rises
// with the signal's speed, so a still photo's corners stop trembling while a moving one is
// followed without lag. Applied to the 8 corner coordinates (camera pixels) independently.
//
//   minCutoff (Hz)  cutoff when still: lower = less jitter, more lag when motion starts
//   beta            how fast the cutoff rises with speed (per pixel/second): higher = less lag
//   dCutoff (Hz)    cutoff of the speed estimate itself
//
// The defaults come from the viewer benchmark's sweep on fake-camera clips in Chromium
// (bench/viewer_tracking.py --sweep, docs/benchmarks.md "One Euro parameters"): the least jitter
// on a still small print (0.100 px, unfiltered 0.176) among the settings whose lag keeps the
// hand-held drift clip's corner error within 0.5 px of the unfiltered one (0.82 / 1.27 px median
// / p95, unfiltered 0.53 / 0.95). minCutoff 1 Hz with beta 0 came out as low (0.092 px, 0.81 /
// 1.24 px) — within the run's noise — but without any speed adaptation it lags on a pan faster
// than the drift clip; beta 0.3 keeps it. dCutoff was not swept.
export const FILTER_DEFAULTS = { minCutoff: 0.01, beta: 0.3, dCutoff: 1 };

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
