// The pipeline over synthetic sequences: found once, then tracked frame to frame with a small
// corner error; lost when the photo leaves, found again when it comes back; albums.

import assert from "node:assert/strict";
import test from "node:test";
import { readMarker } from "../static/viewer/arv/marker.js";
import { ArvTracker } from "../static/viewer/arv/pipeline.js";
import { corners, cornerError, loadMarkerBytes, loadVector, poseHomography, renderFrame } from "./support/scene.mjs";

const pictarize = loadVector("pictarize");
const coffee = loadVector("coffee");
const FRAME = { frameWidth: 640, frameHeight: 480 };

function pairs(values) {
  return [[values[0], values[1]], [values[2], values[3]], [values[4], values[5]], [values[6], values[7]]];
}

// A hand-held camera drifting, turning and tilting over the print (15 frames a second).
function handheld(i) {
  const t = i / 15;
  return {
    size: 0.55 + 0.1 * Math.sin(t),
    tiltX: 15 * Math.sin(0.7 * t),
    tiltY: 10 * Math.cos(0.5 * t),
    roll: 20 * Math.sin(0.3 * t),
    shiftX: 0.15 * Math.sin(1.1 * t),
    shiftY: 0.1 * Math.cos(0.9 * t),
  };
}

test("a moving print is found on the first frame and tracked on every frame after it", () => {
  const pipeline = new ArvTracker(readMarker(loadMarkerBytes("pictarize.arvm")), { filter: false });
  const errors = [];
  let detections = 0;
  for (let i = 0; i < 45; i++) {
    const H = poseHomography({ ...FRAME, photoWidth: 400, photoHeight: 400, ...handheld(i) });
    const [r] = pipeline.process(renderFrame(pictarize, H, { noise: 4, seed: i + 1 }), 640, 480, i * 66.7);
    if (pipeline.timing.detected) detections += 1;
    assert.ok(r.visible, `visible on frame ${i}`);
    assert.equal(r.found, i === 0, `found reported once, frame ${i}`);
    errors.push(cornerError(pairs(r.rawCorners), corners(H, 400, 400)));
  }
  errors.sort((a, b) => a - b);
  assert.equal(detections, 1, "detection only until found: the rest is tracking");
  assert.ok(errors[errors.length >> 1] < 1, `median corner error ${errors[errors.length >> 1].toFixed(2)} px`);
  assert.ok(errors[errors.length - 1] < 3, `worst corner error ${errors[errors.length - 1].toFixed(2)} px`);
});

test("a fast pan is followed", () => {
  const pipeline = new ArvTracker(readMarker(loadMarkerBytes("pictarize.arvm")), { filter: false });
  let worst = 0;
  for (let i = 0; i < 20; i++) {
    // 12 px per frame sideways, accelerating rotation
    const H = poseHomography({ ...FRAME, photoWidth: 400, photoHeight: 400, size: 0.5, shiftX: -0.5 + i * 0.04, roll: i * i * 0.1 });
    const [r] = pipeline.process(renderFrame(pictarize, H, { seed: i + 1, noise: 3 }), 640, 480, i * 33.3);
    assert.ok(r.visible, `visible on frame ${i}`);
    worst = Math.max(worst, cornerError(pairs(r.rawCorners), corners(H, 400, 400)));
  }
  assert.ok(worst < 3, `worst corner error ${worst.toFixed(2)} px`);
});

test("the print leaving the frame is reported lost, and found again when it comes back", () => {
  const pipeline = new ArvTracker(readMarker(loadMarkerBytes("pictarize.arvm")), { missFrames: 2 });
  const events = [];
  for (let i = 0; i < 36; i++) {
    // in view for 10 frames, slides out to the right (frames 10-17), away until 25, then back
    const shift = i < 10 ? 0 : i < 18 ? (i - 10) * 0.3 : i < 26 ? 3 : 0;
    const H = poseHomography({ ...FRAME, photoWidth: 400, photoHeight: 400, size: 0.5, shiftX: shift });
    const [r] = pipeline.process(renderFrame(pictarize, H, { seed: i + 1, noise: 3 }), 640, 480, i * 66.7);
    if (r.found) events.push(["found", i]);
    if (r.lost) events.push(["lost", i]);
    if (r.visible && shift === 0) assert.ok(cornerError(pairs(r.rawCorners), corners(H, 400, 400)) < 2, `frame ${i}`);
  }
  assert.equal(events.length, 3, JSON.stringify(events));
  assert.deepEqual(events.map((e) => e[0]), ["found", "lost", "found"]);
  assert.equal(events[0][1], 0);
  assert.ok(events[1][1] >= 12 && events[1][1] <= 22, `lost at ${events[1][1]}`);
  assert.ok(events[2][1] >= 26 && events[2][1] <= 28, `found again at ${events[2][1]}`);
});

test("an album: the photo in view is the one reported, and switching photos switches targets", () => {
  const pipeline = new ArvTracker(readMarker(loadMarkerBytes("album.arvm")), { missFrames: 1 });
  const seen = [];
  for (let i = 0; i < 16; i++) {
    const [photo, index] = i < 8 ? [coffee, 0] : [pictarize, 1];
    const H = poseHomography({ ...FRAME, photoWidth: photo.width, photoHeight: photo.height, size: 0.55, roll: 5 });
    const results = pipeline.process(renderFrame(photo, H, { seed: i + 1, noise: 3 }), 640, 480, i * 66.7);
    const visible = results.map((r, t) => (r.visible ? t : -1)).filter((t) => t >= 0);
    seen.push(visible.join(","));
    if (i === 0 || i >= 11) assert.deepEqual(visible, [index], `frame ${i}`);
  }
  assert.ok(seen.includes("0") && seen.includes("1"));
});

test("a frame of another size (the phone turned) restarts the search", () => {
  const pipeline = new ArvTracker(readMarker(loadMarkerBytes("pictarize.arvm")));
  const landscape = poseHomography({ ...FRAME, photoWidth: 400, photoHeight: 400, size: 0.6 });
  let [r] = pipeline.process(renderFrame(pictarize, landscape, { seed: 1 }), 640, 480, 0);
  assert.ok(r.visible);
  const portrait = poseHomography({ frameWidth: 480, frameHeight: 640, photoWidth: 400, photoHeight: 400, size: 0.8 });
  [r] = pipeline.process(renderFrame(pictarize, portrait, { width: 480, height: 640, seed: 2 }), 480, 640, 66);
  assert.ok(r.visible, "found again in the portrait frame");
  assert.ok(cornerError(pairs(r.rawCorners), corners(portrait, 400, 400)) < 2);
});

test("tracking stops when the print is covered, instead of drifting onto the table", () => {
  const pipeline = new ArvTracker(readMarker(loadMarkerBytes("pictarize.arvm")), { missFrames: 0 });
  const H = poseHomography({ ...FRAME, photoWidth: 400, photoHeight: 400, size: 0.6 });
  let [r] = pipeline.process(renderFrame(pictarize, H, { seed: 1 }), 640, 480, 0);
  assert.ok(r.visible);
  const away = poseHomography({ ...FRAME, photoWidth: 400, photoHeight: 400, shiftX: 40 });
  [r] = pipeline.process(renderFrame(pictarize, away, { seed: 2 }), 640, 480, 66);
  assert.ok(!r.visible && r.lost);
});
