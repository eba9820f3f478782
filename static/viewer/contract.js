// The page's contract, as pure functions (no DOM): what every engine reports about the photo it
// tracks, in one shape, for the tests and a debug overlay. viewer.js writes them on <body>:
//
//   data-ar-engine   the engine serving the visit: "mindar", "nft", … or "fallback" (video only)
//   data-ar-state    loading → scanning ⇄ found/lost, or error (data-ar-error names the cause)
//   data-ar-corners  JSON [[x, y] × 4] — the photo's top-left, top-right, bottom-right and
//                    bottom-left corners in the camera video's own pixels (videoWidth ×
//                    videoHeight), written at least 5 times a second while tracked, absent otherwise
//   data-ar-fps      camera frames the engine processed per second
//
// Node's test runner imports this file directly (viewer/tests/js/).

// Corners are written at this pace while tracked (the contract asks for ≥ 5 a second), whatever
// pace the engine reports at: a render loop reports 60 times a second, a slow tracker 4.
export const CORNERS_EVERY_MS = 100;

// 4×4 column-major matrix (three.js, WebGL) × [x, y, z, 1].
function transform(m, [x, y, z]) {
  return [
    m[0] * x + m[4] * y + m[8] * z + m[12],
    m[1] * x + m[5] * y + m[9] * z + m[13],
    m[2] * x + m[6] * y + m[10] * z + m[14],
    m[3] * x + m[7] * y + m[11] * z + m[15],
  ];
}

export function multiply(a, b) {
  const out = new Array(16).fill(0);
  for (let col = 0; col < 4; col++) {
    for (let row = 0; row < 4; row++) {
      let sum = 0;
      for (let k = 0; k < 4; k++) sum += a[k * 4 + row] * b[col * 4 + k];
      out[col * 4 + row] = sum;
    }
  }
  return out;
}

// Points of a model (the photo's corners in its anchor's space) projected through a model-view
// and a projection matrix onto a frame of width × height pixels, y down. The projection must be
// the one of that frame (the camera's own, not the screen's, which crops it).
export function projectToPixels(points, modelView, projection, width, height) {
  const mvp = multiply(projection, modelView);
  return points.map((point) => {
    const [x, y, , w] = transform(mvp, point);
    return [round1(((x / w + 1) / 2) * width), round1(((1 - y / w) / 2) * height)];
  });
}

// Maps pixels of a frame the camera video was scaled and offset into (AR.js draws it letterboxed
// into its 4:3 processing frame) back to the video's own pixels.
export function unletterbox(points, { scale, offsetX, offsetY }) {
  return points.map(([x, y]) => [round1((x - offsetX) / scale), round1((y - offsetY) / scale)]);
}

// A photo `aspect` (height / width) times as tall as wide, centred on its anchor and 1 unit wide —
// MindAR's anchor space: TL, TR, BR, BL with y up.
export function unitPhotoCorners(aspect) {
  const h = aspect / 2;
  return [[-0.5, h, 0], [0.5, h, 0], [0.5, -h, 0], [-0.5, -h, 0]];
}

export function round1(value) {
  return Math.round(value * 10) / 10;
}

// Frames processed in the last second, from the timestamps (ms) of processed frames.
export class FpsMeter {
  constructor(windowMs = 1000) {
    this.windowMs = windowMs;
    this.times = [];
  }
  frame(now) {
    this.times.push(now);
    this.trim(now);
  }
  trim(now) {
    while (this.times.length && now - this.times[0] >= this.windowMs) this.times.shift();
  }
  rate(now) {
    this.trim(now);
    return round1((this.times.length * 1000) / this.windowMs);
  }
}

// Every (engine, variant) to try, in order: the engines of the page's chain that this browser
// can run at all, each with its own variants (MindAR: TensorFlow.js on WebGL 2, then WebGL 1).
// `registry` maps an engine's name to {supported(), variants}; unknown names are skipped.
export function attemptPlan(chain, registry) {
  const plan = [];
  for (const name of chain) {
    const entry = registry[name];
    if (!entry || (entry.supported && !entry.supported())) continue;
    for (const variant of entry.variants || [""]) plan.push({ engine: name, variant });
  }
  return plan;
}
