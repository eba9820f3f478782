// The compact marker reader (static/viewer/arv/marker.js) on the files the Python side writes
// (markers/mindar/compact.py), and on damaged and hostile ones.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import test from "node:test";
import { decode } from "@msgpack/msgpack";
import { crc32, MarkerFormatError, markerFromMind, readMarker } from "../static/viewer/arv/marker.js";
import { loadMarkerBytes } from "./support/scene.mjs";

const CARD_MIND = new URL("../markers/tests/fixtures/mindar/card.mind", import.meta.url);

function rebuild(bytes, mutate) {
  // A copy with its body changed by mutate(body) and a valid CRC again: checks past the CRC.
  const copy = new Uint8Array(bytes);
  mutate(copy);
  const view = new DataView(copy.buffer);
  view.setUint32(8, copy.length - 16, true);
  view.setUint32(12, crc32(copy, 16), true);
  return copy;
}

function rejects(bytes, pattern) {
  assert.throws(() => readMarker(bytes), (err) => err instanceof MarkerFormatError && pattern.test(err.message));
}

test("the compact card marker holds exactly what the official card.mind holds", () => {
  const compact = readMarker(loadMarkerBytes("card.arvm"));
  const mind = markerFromMind(decode(readFileSync(CARD_MIND)));
  assert.equal(compact.targets.length, 1);
  const [a, b] = [compact.targets[0], mind.targets[0]];
  assert.equal(a.width, b.width);
  assert.equal(a.height, b.height);
  assert.equal(a.keyframes.length, b.keyframes.length);
  a.keyframes.forEach((ka, k) => {
    const kb = b.keyframes[k];
    assert.deepEqual([ka.width, ka.height, ka.scale], [kb.width, kb.height, kb.scale]);
    for (const polarity of ["maxima", "minima"]) {
      const [pa, pb] = [ka[polarity], kb[polarity]];
      assert.equal(pa.count, pb.count);
      for (const field of ["x", "y", "scale", "angle", "descriptors"]) assert.deepEqual(pa[field], pb[field], `${k} ${polarity} ${field}`);
      assert.deepEqual(pa.tree, pb.tree, `${k} ${polarity} tree`);
    }
  });
  a.tracking.forEach((sa, s) => {
    const sb = b.tracking[s];
    for (const field of ["width", "height", "scale", "count", "x", "y", "patches"]) assert.deepEqual(sa[field], sb[field], `set ${s} ${field}`);
  });
});

test("the album marker has its two photos in order", () => {
  const marker = readMarker(loadMarkerBytes("album.arvm"));
  assert.deepEqual(marker.targets.map((t) => [t.width, t.height]), [[476, 317], [400, 400]]);
  for (const target of marker.targets) {
    assert.ok(target.keyframes.length >= 5);
    assert.equal(target.tracking.length, 2);
    assert.ok(target.tracking[1].count >= 10);
    // every tree's leaves cover its points once
    for (const kf of target.keyframes) {
      for (const set of [kf.maxima, kf.minima]) {
        const seen = new Set(set.tree.points);
        assert.equal(seen.size, set.count);
      }
    }
  }
});

test("an ArrayBuffer is read like a Uint8Array", () => {
  const bytes = loadMarkerBytes("pictarize.arvm");
  const fromBuffer = readMarker(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  assert.equal(fromBuffer.targets[0].keyframes.length, readMarker(bytes).targets[0].keyframes.length);
});

test("damaged and foreign files are refused with a clear MarkerFormatError", () => {
  const good = loadMarkerBytes("pictarize.arvm");
  rejects(new Uint8Array(0), /too short/);
  rejects(new TextEncoder().encode("<html>not found</html>"), /wrong magic/);
  rejects(readFileSync(CARD_MIND), /wrong magic/); // a .mind is not a compact marker
  const version = new Uint8Array(good);
  version[4] = 2;
  rejects(version, /version 2/);
  const flags = new Uint8Array(good);
  flags[5] = 1;
  rejects(flags, /header flags/);
  rejects(good.subarray(0, good.length - 1), /announces/);
  rejects(good.subarray(0, 100), /announces/);
  const flipped = new Uint8Array(good);
  flipped[good.length >> 1] ^= 0x40;
  rejects(flipped, /checksum/);
  const longer = new Uint8Array(good.length + 3);
  longer.set(good);
  rejects(longer, /announces/);
  assert.throws(() => readMarker("ARVM"), MarkerFormatError);
  assert.throws(() => readMarker(null), MarkerFormatError);
});

test("hostile files with a valid checksum are refused too", () => {
  const good = loadMarkerBytes("pictarize.arvm");
  // target count 0, then an absurd one
  rejects(rebuild(good, (b) => new DataView(b.buffer).setUint16(6, 0, true)), /target count/);
  rejects(rebuild(good, (b) => new DataView(b.buffer).setUint16(6, 2, true)), /ends inside/);
  // target size 0 x 0
  rejects(rebuild(good, (b) => new DataView(b.buffer).setUint32(16, 0, true)), /invalid size/);
  // no keyframes; 3 tracking sets
  rejects(rebuild(good, (b) => { b[24] = 0; }), /0 keyframes/);
  rejects(rebuild(good, (b) => { b[25] = 3; }), /3 tracking sets/);
  // first keyframe: a NaN scale, unknown flags
  rejects(rebuild(good, (b) => new DataView(b.buffer).setFloat64(34, NaN, true)), /invalid scale/);
  rejects(rebuild(good, (b) => { b[42] = 0x80; }), /unknown flags/);
  // first keyframe's first point at octave 0
  rejects(rebuild(good, (b) => { b[47] = 0; }), /octave/);
  // bytes appended after the last target
  const padded = new Uint8Array(good.length + 4);
  padded.set(good);
  rejects(rebuild(padded, () => {}), /unexpected bytes/);
});

test("hostile trees are refused", () => {
  const good = loadMarkerBytes("pictarize.arvm");
  const marker = readMarker(good);
  const kf = marker.targets[0].keyframes[0];
  // The first tree follows the file header (16 bytes), the target header (10), the keyframe
  // header (21) and both point blocks (octaves, three float32 planes, modes, descriptors).
  let pos = 16 + 10 + 21;
  for (const set of [kf.maxima, kf.minima]) {
    const n = set.count;
    pos += n + 12 * n; // octaves, x, y, angle (float32 planes)
    const modes = good.subarray(pos, pos + n);
    pos += n;
    for (const m of modes) pos += m === 0 ? 20 : 84;
  }
  const treeStart = pos;
  assert.equal(good[treeStart], 1, "the maxima tree's root is an inner node");
  // root with a centre point
  rejects(rebuild(good, (b) => { b[treeStart + 1] = 0; b[treeStart + 2] = 0; }), /root must not have a centre/);
  // an unknown node kind
  rejects(rebuild(good, (b) => { b[treeStart] = 7; }), /unknown node kind/);
  // an inner node without children
  rejects(rebuild(good, (b) => { b[treeStart + 3] = 0; }), /no children/);
  // a child's centre out of range
  rejects(rebuild(good, (b) => { b[treeStart + 5] = 0xff; b[treeStart + 6] = 0xfe; }), /out of range/);
});
