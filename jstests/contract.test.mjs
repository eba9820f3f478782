// The page contract's pure parts (static/viewer/contract.js), run by `node --test` (test_js.py).
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  FpsMeter, attemptPlan, multiply, projectToPixels, unitPhotoCorners, unletterbox,
} from "../static/viewer/contract.js";

// MindAR's camera (controller.js): f from a 45° vertical field of view, principal point at the
// centre of the input, and its OpenGL projection of that camera.
function mindarProjection(width, height, near = 10, far = 100000) {
  const f = height / 2 / Math.tan((45 * Math.PI) / 180 / 2);
  const rows = [
    [(2 * f) / width, 0, -((2 * (width / 2)) / width - 1), 0],
    [0, (2 * f) / height, -((2 * (height / 2)) / height - 1), 0],
    [0, 0, -(far + near) / (far - near), (-2 * far * near) / (far - near)],
    [0, 0, -1, 0],
  ];
  const columnMajor = [];
  for (let c = 0; c < 4; c++) for (let r = 0; r < 4; r++) columnMajor.push(rows[r][c]);
  return { f, matrix: columnMajor };
}

const translation = (x, y, z) => [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, x, y, z, 1];

test("a point in front of MindAR's camera lands where the pinhole model puts it", () => {
  const { f, matrix } = mindarProjection(640, 480);
  // OpenGL camera space: x right, y up, looking down -z. (100, 50, -1000) → f·x/z + cx, cy − f·y/z.
  const [[x, y]] = projectToPixels([[0, 0, 0]], translation(100, 50, -1000), matrix, 640, 480);
  assert.ok(Math.abs(x - (320 + (f * 100) / 1000)) < 0.1, `x ${x}`);
  assert.ok(Math.abs(y - (240 - (f * 50) / 1000)) < 0.1, `y ${y}`);
});

test("a photo facing the camera has its corners in TL, TR, BR, BL order, shaped like it", () => {
  const { matrix } = mindarProjection(640, 480);
  const aspect = 0.75;
  const scale = 400; // the anchor's scale: the photo is 400 units wide
  const modelView = multiply(translation(0, 0, -1000), [scale, 0, 0, 0, 0, scale, 0, 0, 0, 0, scale, 0, 0, 0, 0, 1]);
  const [tl, tr, br, bl] = projectToPixels(unitPhotoCorners(aspect), modelView, matrix, 640, 480);
  assert.ok(tl[0] < tr[0] && tl[1] < bl[1], JSON.stringify([tl, tr, br, bl]));
  assert.equal(tl[1], tr[1]);
  assert.equal(tr[0], br[0]);
  const width = tr[0] - tl[0];
  const height = bl[1] - tl[1];
  assert.ok(Math.abs(height / width - aspect) < 0.01);
  assert.ok(Math.abs((tl[0] + tr[0]) / 2 - 320) < 0.1); // centred
});

test("pixels of a letterboxed frame map back to the camera video's own", () => {
  // A 480×640 video fitted into AR.js's 320×240 frame: scale 0.375, 90 px bars left and right.
  const points = unletterbox([[90, 0], [270, 240]], { scale: 0.375, offsetX: 90, offsetY: 0 });
  assert.deepEqual(points, [[0, 0], [480, 640]]);
});

test("frames per second count the last second only", () => {
  const meter = new FpsMeter();
  for (let t = 0; t <= 2000; t += 250) meter.frame(t);
  assert.equal(meter.rate(2000), 4); // 1000 < t ≤ 2000: 1250, 1500, 1750, 2000
  assert.equal(meter.rate(3500), 0);
});

test("the plan tries each supported engine of the chain, variant by variant, in order", () => {
  const registry = {
    arv: { supported: () => false, variants: ["cpu"] },
    mindar: { supported: () => true, variants: ["webgl2", "webgl1"] },
    nft: { supported: () => true, variants: [""] },
  };
  assert.deepEqual(attemptPlan(["arv", "mindar", "nft", "unknown"], registry), [
    { engine: "mindar", variant: "webgl2" },
    { engine: "mindar", variant: "webgl1" },
    { engine: "nft", variant: "" },
  ]);
  assert.deepEqual(attemptPlan(["arv"], registry), []);
});
