// Finding a photo: against its own marker, under known warps, in an album, and never in
// another photo. Frames are rendered by support/scene.mjs with an exact ground truth.

import assert from "node:assert/strict";
import test from "node:test";
import { Detector } from "../static/viewer/arv/detector.js";
import { readMarker } from "../static/viewer/arv/marker.js";
import { Matcher } from "../static/viewer/arv/matcher.js";
import { cornersOf } from "../static/viewer/arv/pipeline.js";
import { corners, cornerError, loadMarkerBytes, loadVector, poseHomography, renderFrame } from "./support/scene.mjs";

const pictarize = loadVector("pictarize");
const coffee = loadVector("coffee");
const card = loadVector("card");
const single = readMarker(loadMarkerBytes("pictarize.arvm"));
const album = readMarker(loadMarkerBytes("album.arvm"));

function found(grey, width, height, target) {
  const features = new Detector(width, height).detect(grey);
  const H = new Float64Array(9);
  const inliers = new Matcher().match(features, target, width, height, H);
  if (!inliers) return null;
  const c = cornersOf(H, target.width, target.height, new Float64Array(8));
  return { inliers, corners: [[c[0], c[1]], [c[2], c[3]], [c[4], c[5]], [c[6], c[7]]] };
}

test("a photo matched against its own marker: the homography maps its corners within 1 px", () => {
  const result = found(pictarize.grey, pictarize.width, pictarize.height, single.targets[0]);
  assert.ok(result, "found");
  const truth = [[0, 0], [400, 0], [400, 400], [0, 400]];
  assert.ok(cornerError(result.corners, truth) < 1, JSON.stringify(result.corners));
  assert.ok(result.inliers > 200);
});

test("the same in the album: each photo is found as its own target, not the other", () => {
  for (const [photo, index] of [[coffee, 0], [pictarize, 1]]) {
    const truth = [[0, 0], [photo.width, 0], [photo.width, photo.height], [0, photo.height]];
    const own = found(photo.grey, photo.width, photo.height, album.targets[index]);
    assert.ok(own && cornerError(own.corners, truth) < 1, `target ${index}`);
    assert.equal(found(photo.grey, photo.width, photo.height, album.targets[1 - index]), null, `not target ${1 - index}`);
  }
});

// Camera frames 640x480 of the print; the tolerance is on the worst of the four corners.
const WARPS = [
  { name: "frontal", pose: {}, tolerance: 2 },
  { name: "perspective 30 degrees", pose: { tiltX: 30 }, tolerance: 3 },
  { name: "perspective 50 degrees", pose: { tiltX: 50 }, tolerance: 4 },
  { name: "perspective 50 degrees sideways", pose: { tiltY: 50, roll: 10 }, tolerance: 4 },
  { name: "scale 0.4", pose: { size: 0.24 }, tolerance: 4 },
  { name: "rotation 90 degrees", pose: { roll: 90 }, tolerance: 3 },
  { name: "dim", pose: {}, render: { gain: 0.3, bias: 5 }, tolerance: 3 },
  { name: "blur", pose: {}, render: { blur: 1.5 }, tolerance: 4 },
  { name: "noise", pose: {}, render: { noise: 10 }, tolerance: 3 },
  { name: "close up, cropped by the frame", pose: { size: 1.15 }, tolerance: 3 },
];

for (const warp of WARPS) {
  test(`found under a known warp: ${warp.name}`, () => {
    const H = poseHomography({ frameWidth: 640, frameHeight: 480, photoWidth: 400, photoHeight: 400, size: 0.6, ...warp.pose });
    const frame = renderFrame(pictarize, H, { seed: 11, ...(warp.render || {}) });
    const result = found(frame, 640, 480, single.targets[0]);
    assert.ok(result, "found");
    const error = cornerError(result.corners, corners(H, 400, 400));
    assert.ok(error <= warp.tolerance, `corner error ${error.toFixed(2)} px`);
  });
}

test("another photo is never taken for the marker's", () => {
  const others = [
    [coffee, { size: 0.6 }], [coffee, { size: 0.9, roll: 20 }], [coffee, { tiltX: 35 }], [coffee, { size: 0.3, shiftX: 0.4 }],
    [card, { size: 0.5 }], [card, { size: 0.8, roll: -30 }], [card, { tiltY: 30 }],
  ];
  others.forEach(([photo, pose], n) => {
    for (const seed of [1, 2]) {
      const H = poseHomography({ frameWidth: 640, frameHeight: 480, photoWidth: photo.width, photoHeight: photo.height, size: 0.6, ...pose });
      const frame = renderFrame(photo, H, { seed, noise: 3 });
      assert.equal(found(frame, 640, 480, single.targets[0]), null, `case ${n} seed ${seed}`);
    }
  });
  // nor in an empty table, nor in pure noise
  const table = renderFrame(pictarize, poseHomography({ frameWidth: 640, frameHeight: 480, photoWidth: 400, photoHeight: 400, shiftX: 50 }), { seed: 3 });
  assert.equal(found(table, 640, 480, single.targets[0]), null);
});

test("matching is deterministic", () => {
  const H = poseHomography({ frameWidth: 640, frameHeight: 480, photoWidth: 400, photoHeight: 400, tiltX: 20, roll: 15 });
  const frame = renderFrame(pictarize, H, { seed: 5, noise: 6 });
  const a = found(frame, 640, 480, single.targets[0]);
  const b = found(frame, 640, 480, single.targets[0]);
  assert.deepEqual(a, b);
});
