// The arv engine's per-frame logic, without any browser API (the worker runs it; Node's tests
// and benchmark run it directly).
//
// Each grey frame: targets being tracked are followed by the tracker (tracker.js); while fewer
// than `maxTrack` targets are tracked, the frame is also searched for the others (detector.js +
// matcher.js) — every frame while nothing is tracked, every `detectEvery` frames otherwise, at
// most `targetsPerFrame` targets per frame in turn (a large album does not slow every frame).
// A target is reported found after `warmupFrames` tracked frames and lost after `missFrames`
// frames without it; in between, its last corners are kept. Corners go through a One Euro
// filter (filter.js), reset whenever the target is found again.
//
// Results (this.results[t] for marker target t): visible, found/lost (events of this frame),
// corners (filtered) and rawCorners (unfiltered): Float64Array [x0, y0, ... x3, y3] of the
// photo's top-left, top-right, bottom-right and bottom-left corners in frame pixels
// (continuous: (0, 0) is the frame's top-left corner), and H, the homography target pixels ->
// frame pixels.

import { Detector } from "./detector.js";
import { OneEuroFilter, FILTER_DEFAULTS } from "./filter.js";
import { applyH, invert3, multiply3 } from "./homography.js";
import { Matcher, MATCHER_DEFAULTS } from "./matcher.js";
import { FramePyramid, Tracker, TRACKER_DEFAULTS } from "./tracker.js";

export const PIPELINE_DEFAULTS = {
  maxTrack: 1,
  warmupFrames: 1,
  missFrames: 3,
  detectEvery: 5,
  targetsPerFrame: 4,
  predict: true,
  filter: true,
  filterOptions: FILTER_DEFAULTS,
  detector: { bucketsPerDimension: 10, maxPerBucket: 5 },
  matcher: MATCHER_DEFAULTS,
  tracker: TRACKER_DEFAULTS,
};

class TargetState {
  constructor(filterOptions) {
    this.H = new Float64Array(9);
    this.previousH = new Float64Array(9);
    this.rawCorners = new Float64Array(8);
    this.corners = new Float64Array(8);
    this.filter = new OneEuroFilter(8, filterOptions);
    this.reset();
  }

  reset() {
    this.tracking = false;
    this.visible = false;
    this.found = false;
    this.lost = false;
    this.trackedFrames = 0;
    this.missedFrames = 0;
    this.hasPrevious = false;
    this.filter.reset();
  }
}

export class ArvTracker {
  constructor(marker, options = {}) {
    this.marker = marker;
    this.options = {
      ...PIPELINE_DEFAULTS,
      ...options,
      matcher: { ...MATCHER_DEFAULTS, ...(options.matcher || {}) },
      tracker: { ...TRACKER_DEFAULTS, ...(options.tracker || {}) },
      filterOptions: { ...FILTER_DEFAULTS, ...(options.filterOptions || {}) },
      detector: { ...PIPELINE_DEFAULTS.detector, ...(options.detector || {}) },
    };
    this.matcher = new Matcher(this.options.matcher);
    this.tracker = new Tracker(this.options.tracker);
    this.pyramid = new FramePyramid();
    this.detector = null;
    this.results = marker.targets.map(() => new TargetState(this.options.filterOptions));
    this.frameCount = 0;
    this.nextTarget = 0;
    this.timing = { detectMs: 0, matchMs: 0, trackMs: 0, detected: false };
    this.Hfound = new Float64Array(9);
    this.Htmp = new Float64Array(9);
    this.Hinv = new Float64Array(9);
    this.width = 0;
    this.height = 0;
  }

  setFilter(options) {
    Object.assign(this.options.filterOptions, options);
    for (const r of this.results) r.filter.configure(this.options.filterOptions);
  }

  // Forget every target (a new camera, a turned phone).
  reset() {
    for (const r of this.results) r.reset();
  }

  // grey: Uint8Array (width * height); timeMs: the frame's time. Returns this.results.
  process(grey, width, height, timeMs) {
    const o = this.options;
    if (width !== this.width || height !== this.height) {
      this.width = width;
      this.height = height;
      this.detector = new Detector(width, height, o.detector);
      this.reset();
    }
    this.frameCount += 1;
    const timing = this.timing;
    timing.detectMs = 0;
    timing.matchMs = 0;
    timing.trackMs = 0;
    timing.detected = false;
    this.pyramid.set(grey, width, height);
    let tracked = 0;
    // 1. Follow the tracked targets.
    let t0 = now();
    for (let t = 0; t < this.results.length; t++) {
      const r = this.results[t];
      r.found = false;
      r.lost = false;
      if (!r.tracking) continue;
      this.Htmp.set(r.H);
      if (o.predict && r.hasPrevious) predict(r.previousH, r.H, this.Htmp, this.Hinv);
      const support = this.tracker.track(this.pyramid, this.marker.targets[t], this.Htmp);
      if (support) {
        r.previousH.set(r.H);
        r.hasPrevious = true;
        r.H.set(this.Htmp);
        tracked += 1;
      } else {
        r.tracking = false;
        r.hasPrevious = false;
      }
    }
    timing.trackMs = now() - t0;
    // 2. Look for the others.
    const detectNow = tracked < o.maxTrack && (tracked === 0 || this.frameCount % o.detectEvery === 0);
    if (detectNow) {
      t0 = now();
      const features = this.detector.detect(grey);
      timing.detectMs = now() - t0;
      timing.detected = true;
      t0 = now();
      const count = this.results.length;
      const budget = Math.min(o.targetsPerFrame, count);
      for (let step = 0; step < count && tracked < o.maxTrack; step++) {
        if (step >= budget) break;
        const t = (this.nextTarget + step) % count;
        const r = this.results[t];
        if (r.tracking) continue;
        const inliers = this.matcher.match(features, this.marker.targets[t], width, height, this.Hfound);
        if (inliers) {
          r.tracking = true;
          r.hasPrevious = false;
          r.H.set(this.Hfound);
          tracked += 1;
        }
      }
      this.nextTarget = (this.nextTarget + budget) % count;
      timing.matchMs = now() - t0;
    }
    // 3. Report.
    for (let t = 0; t < this.results.length; t++) {
      const r = this.results[t];
      const target = this.marker.targets[t];
      if (r.tracking) {
        r.missedFrames = 0;
        r.trackedFrames += 1;
        cornersOf(r.H, target.width, target.height, r.rawCorners);
        if (!r.visible && r.trackedFrames >= o.warmupFrames) {
          r.visible = true;
          r.found = true;
          r.filter.reset();
        }
        if (r.visible) {
          if (o.filter) r.filter.filter(r.rawCorners, timeMs, r.corners);
          else r.corners.set(r.rawCorners);
        }
      } else {
        r.trackedFrames = 0;
        if (r.visible) {
          r.missedFrames += 1;
          if (r.missedFrames > o.missFrames) {
            r.visible = false;
            r.lost = true;
          }
        }
      }
    }
    return this.results;
  }
}

// Constant-velocity guess of this frame's homography: last frame's motion applied once more.
function predict(previousH, H, out, scratch) {
  if (!invert3(previousH, scratch)) return;
  multiply3(H, scratch, scratch); // motion from the previous frame to the last one
  multiply3(scratch, H, out);
  const s = out[8];
  if (!(Math.abs(s) > 1e-12)) {
    out.set(H);
    return;
  }
  for (let i = 0; i < 9; i++) out[i] /= s;
}

export function cornersOf(H, width, height, out) {
  applyH(H, 0, 0, out, 0);
  applyH(H, width, 0, out, 2);
  applyH(H, width, height, out, 4);
  applyH(H, 0, height, out, 6);
  return out;
}

function now() {
  return typeof performance !== "undefined" ? performance.now() : Date.now();
}
