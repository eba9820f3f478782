// The JavaScript detector against the compiler (markers/mindar) on committed vectors: the grey
// pixels of a keyframe and the points and descriptors the Python detector finds in it
// (markers/tests/arv_vectors.py; test_arv_vectors.py keeps them in step with the compiler).
// The bar: same points within 0.01 px, at least 99% identical descriptors.

import assert from "node:assert/strict";
import test from "node:test";
import { Detector, DESCRIPTOR_WORDS } from "../static/viewer/arv/detector.js";
import { loadVector } from "./support/scene.mjs";

function hex(words, offset) {
  let s = "";
  for (let k = 0; k < DESCRIPTOR_WORDS; k++) s += words[offset + k].toString(16).padStart(8, "0");
  return s;
}

for (const name of ["pictarize", "coffee", "card"]) {
  test(`detector finds the compiler's points and descriptors in ${name}`, () => {
    const v = loadVector(name);
    const expected = v.points;
    const features = new Detector(v.width, v.height).detect(v.grey);
    assert.equal(features.count, expected.x.length, "point count");
    assert.ok(features.count > 50, "a meaningful number of points");
    let identical = 0;
    for (let i = 0; i < features.count; i++) {
      assert.ok(Math.abs(features.x[i] - expected.x[i]) <= 0.01, `point ${i} x`);
      assert.ok(Math.abs(features.y[i] - expected.y[i]) <= 0.01, `point ${i} y`);
      assert.equal(features.scale[i], expected.scale[i], `point ${i} scale`);
      assert.equal(features.maxima[i], expected.maxima[i], `point ${i} polarity`);
      assert.ok(Math.abs(features.angle[i] - expected.angle[i]) <= 1e-6, `point ${i} angle`);
      if (hex(features.descriptors, i * DESCRIPTOR_WORDS) === expected.descriptors[i]) identical += 1;
    }
    assert.ok(identical >= 0.99 * features.count, `${identical}/${features.count} descriptors identical`);
  });
}

test("the detector reuses its buffers: a second frame gives the same answer", () => {
  const v = loadVector("card");
  const detector = new Detector(v.width, v.height);
  const first = detector.detect(v.grey);
  const snapshot = { count: first.count, x: Float64Array.from(first.x.subarray(0, first.count)) };
  const other = loadVector("coffee");
  const cropped = new Uint8Array(v.width * v.height);
  for (let y = 0; y < v.height; y++) cropped.set(other.grey.subarray(y * other.width, y * other.width + v.width), y * v.width);
  detector.detect(cropped);
  const again = detector.detect(v.grey);
  assert.equal(again, first, "the same FeatureSet object");
  assert.equal(again.count, snapshot.count);
  assert.deepEqual(Float64Array.from(again.x.subarray(0, again.count)), snapshot.x);
});

test("the detector refuses images it cannot analyse", () => {
  assert.throws(() => new Detector(8, 100), RangeError);
  const detector = new Detector(64, 64);
  assert.throws(() => detector.detect(new Uint8Array(10)), RangeError);
});

test("a flat image has no features", () => {
  const features = new Detector(128, 96).detect(new Uint8Array(128 * 96).fill(120));
  assert.equal(features.count, 0);
});
