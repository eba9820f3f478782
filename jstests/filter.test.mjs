// The One Euro filter's behaviour: a still signal's noise is smoothed away, a moving one is
// followed with little lag, and a reset forgets the past.

import assert from "node:assert/strict";
import test from "node:test";
import { FILTER_DEFAULTS, OneEuroFilter } from "../static/viewer/arv/filter.js";
import { gaussian, seededRandom } from "./support/scene.mjs";

function std(values) {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
}

test("the first sample passes through unchanged", () => {
  const filter = new OneEuroFilter(2);
  assert.deepEqual(Array.from(filter.filter(Float64Array.of(3, -4), 1000, new Float64Array(2))), [3, -4]);
});

test("a constant signal stays exactly constant", () => {
  const filter = new OneEuroFilter(1);
  const out = new Float64Array(1);
  for (let i = 0; i < 50; i++) filter.filter(Float64Array.of(12.5), i * 33, out);
  assert.equal(out[0], 12.5);
});

test("noise on a still signal is reduced several times", () => {
  const random = seededRandom(4);
  const filter = new OneEuroFilter(1, { minCutoff: 0.5, beta: 0.01 });
  const raw = [];
  const filtered = [];
  const out = new Float64Array(1);
  for (let i = 0; i < 300; i++) {
    const v = 100 + gaussian(random);
    filter.filter(Float64Array.of(v), i * 33.3, out);
    if (i >= 60) {
      raw.push(v);
      filtered.push(out[0]);
    }
  }
  assert.ok(std(filtered) < std(raw) / 3, `std ${std(filtered).toFixed(3)} vs ${std(raw).toFixed(3)}`);
});

test("a fast movement is followed: beta raises the cutoff with speed", () => {
  // 300 px/s ramp at 30 fps; after settling, the lag with beta is a fraction of the lag without.
  const lag = (beta) => {
    const filter = new OneEuroFilter(1, { minCutoff: 0.5, beta });
    const out = new Float64Array(1);
    for (let i = 0; i <= 30; i++) filter.filter(Float64Array.of(i * 10), i * 33.3, out);
    return 300 - out[0];
  };
  const slow = lag(0);
  const adaptive = lag(0.05);
  assert.ok(slow > 50, `without beta the filter lags ${slow.toFixed(1)} px`);
  assert.ok(adaptive < slow / 4, `with beta ${adaptive.toFixed(1)} px`);
  assert.ok(adaptive >= 0);
});

test("reset forgets the past; configure changes the parameters", () => {
  const filter = new OneEuroFilter(1, { minCutoff: 0.1, beta: 0 });
  const out = new Float64Array(1);
  filter.filter(Float64Array.of(0), 0, out);
  filter.filter(Float64Array.of(100), 33, out);
  assert.ok(out[0] < 10);
  filter.reset();
  filter.filter(Float64Array.of(100), 66, out);
  assert.equal(out[0], 100);
  filter.configure({ minCutoff: 1000 });
  filter.filter(Float64Array.of(0), 99, out);
  assert.ok(out[0] < 1, "a very high cutoff follows at once");
  assert.deepEqual(Object.keys(FILTER_DEFAULTS).sort(), ["beta", "dCutoff", "minCutoff"]);
});

test("a clock that does not advance does not divide by zero", () => {
  const filter = new OneEuroFilter(1);
  const out = new Float64Array(1);
  filter.filter(Float64Array.of(1), 10, out);
  filter.filter(Float64Array.of(5), 10, out);
  assert.ok(Number.isFinite(out[0]));
});
