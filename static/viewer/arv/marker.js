// Reads the compact ARV marker (.arvm, docs/arv-marker-format.md) into the typed arrays the
// matcher and tracker use. The bytes come from the network: every count, offset and index is
// checked, the body carries a CRC-32, and anything wrong throws a MarkerFormatError saying what.
//
// markerFromMind() builds the same structure from a decoded .mind document (its msgpack decoded
// by the caller), for files compiled before the compact marker existed and for tests.
//
// In-memory marker:
//   { version, targets: [{ width, height, keyframes, tracking }] }
//   keyframe: { width, height, scale, maxima: PointSet, minima: PointSet }
//   PointSet: { count, x, y (Float64Array, keyframe pixels), scale, angle (Float64Array),
//               descriptors (Uint32Array, 21 words per point), tree }
//   tree (flattened, node 0 is the root): { isLeaf: Uint8Array, centre: Int32Array (-1 at the
//               root), first/count: Int32Array (children ids in `children`, or points in
//               `points`), children: Int32Array, points: Uint16Array }
//   tracking set: { width, height, scale, count, x, y (Uint16Array), patches (Uint8Array,
//               13 x 13 per point, row-major), patchRadius }

import { DESCRIPTOR_WORDS, FREAK_POINT_COUNT } from "./detector.js";

export const FORMAT_VERSION = 1;
const HEADER_BYTES = 16;
const MAX_FILE_BYTES = 16 * 1024 * 1024;
const MAX_TARGETS = 1000;
const MAX_KEYFRAMES = 64;
const MAX_SIDE = 100000;
const MAX_TREE_DEPTH = 64;
const TEMPLATE_RADIUS = 6;
const RANK_BYTES = 20;
const RAW_BYTES = DESCRIPTOR_WORDS * 4;
const F64_COORDS = 1;
const F64_ANGLES = 2;
const NO_CENTER = 0xffff;
// Lehmer digit i has radix 37 - i and ceil(log2(37 - i)) bits.
const DIGIT_BITS = Array.from({ length: FREAK_POINT_COUNT }, (_, i) => Math.ceil(Math.log2(FREAK_POINT_COUNT - i)));

export class MarkerFormatError extends Error {
  constructor(message) {
    super(message);
    this.name = "MarkerFormatError";
  }
}

let crcTable = null;
export function crc32(bytes, start = 0, end = bytes.length) {
  if (!crcTable) {
    crcTable = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c;
    }
  }
  let crc = -1;
  for (let i = start; i < end; i++) crc = crcTable[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

class Cursor {
  constructor(bytes) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = HEADER_BYTES;
  }
  need(count, what) {
    if (this.pos + count > this.bytes.length) throw new MarkerFormatError(`the file ends inside ${what}`);
  }
  u8(what) { this.need(1, what); return this.view.getUint8(this.pos++); }
  u16(what) { this.need(2, what); const v = this.view.getUint16(this.pos, true); this.pos += 2; return v; }
  u32(what) { this.need(4, what); const v = this.view.getUint32(this.pos, true); this.pos += 4; return v; }
  f64(what) { this.need(8, what); const v = this.view.getFloat64(this.pos, true); this.pos += 8; return v; }
  bytesView(count, what) {
    this.need(count, what);
    const v = this.bytes.subarray(this.pos, this.pos + count);
    this.pos += count;
    return v;
  }
  // n little-endian values of `size` bytes stored byte plane by byte plane.
  planes(n, size, what) {
    const raw = this.bytesView(n * size, what);
    const buf = new Uint8Array(n * size);
    for (let b = 0; b < size; b++) for (let i = 0; i < n; i++) buf[i * size + b] = raw[b * n + i];
    const view = new DataView(buf.buffer);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = size === 4 ? view.getFloat32(i * 4, true) : view.getFloat64(i * 8, true);
    return out;
  }
}

// bytes: ArrayBuffer or Uint8Array of a .arvm file.
export function readMarker(input) {
  const bytes = input instanceof Uint8Array ? input : input instanceof ArrayBuffer ? new Uint8Array(input) : null;
  if (!bytes) throw new MarkerFormatError("expected the marker's bytes");
  if (bytes.length < HEADER_BYTES) throw new MarkerFormatError("the file is too short to be a compact ARV marker");
  if (bytes.length > MAX_FILE_BYTES) throw new MarkerFormatError(`the file is larger than ${MAX_FILE_BYTES} bytes`);
  if (bytes[0] !== 0x41 || bytes[1] !== 0x52 || bytes[2] !== 0x56 || bytes[3] !== 0x4d) {
    throw new MarkerFormatError("not a compact ARV marker (wrong magic bytes)");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = bytes[4];
  if (version !== FORMAT_VERSION) {
    throw new MarkerFormatError(`unsupported compact marker version ${version}; this reader knows ${FORMAT_VERSION}`);
  }
  if (bytes[5] !== 0) throw new MarkerFormatError(`unknown header flags 0x${bytes[5].toString(16)}`);
  const count = view.getUint16(6, true);
  const bodyLength = view.getUint32(8, true);
  if (bodyLength !== bytes.length - HEADER_BYTES) {
    throw new MarkerFormatError(`the header announces ${bodyLength} body bytes but the file has ${bytes.length - HEADER_BYTES}`);
  }
  if (crc32(bytes, HEADER_BYTES) !== view.getUint32(12, true)) {
    throw new MarkerFormatError("the checksum does not match: the file is damaged");
  }
  if (count < 1 || count > MAX_TARGETS) throw new MarkerFormatError(`invalid target count ${count}`);
  const cursor = new Cursor(bytes);
  const targets = [];
  for (let t = 0; t < count; t++) targets.push(readTarget(cursor, `target ${t}`));
  if (cursor.pos !== bytes.length) {
    throw new MarkerFormatError(`${bytes.length - cursor.pos} unexpected bytes after the last target`);
  }
  return { version, targets };
}

function checkSize(width, height, where) {
  if (!(width > 0 && width <= MAX_SIDE && height > 0 && height <= MAX_SIDE)) {
    throw new MarkerFormatError(`${where}: invalid size ${width} x ${height}`);
  }
}

function readTarget(c, where) {
  const width = c.u32(where);
  const height = c.u32(where);
  checkSize(width, height, where);
  const keyframeCount = c.u8(where);
  const trackingCount = c.u8(where);
  if (keyframeCount < 1 || keyframeCount > MAX_KEYFRAMES) throw new MarkerFormatError(`${where} has ${keyframeCount} keyframes`);
  if (trackingCount !== 2) throw new MarkerFormatError(`${where} has ${trackingCount} tracking sets instead of 2`);
  const keyframes = [];
  for (let k = 0; k < keyframeCount; k++) keyframes.push(readKeyframe(c, `${where} keyframe ${k}`));
  const tracking = [];
  for (let k = 0; k < trackingCount; k++) tracking.push(readTrackingSet(c, `${where} tracking set ${k}`));
  return { width, height, keyframes, tracking };
}

// A keyframe's or tracking set's u32 width, u32 height and f64 scale.
function readImageSize(c, where) {
  const width = c.u32(where);
  const height = c.u32(where);
  checkSize(width, height, where);
  const scale = c.f64(where);
  if (!(Number.isFinite(scale) && scale > 0)) throw new MarkerFormatError(`${where} has an invalid scale`);
  return { width, height, scale };
}

function readKeyframe(c, where) {
  const { width, height, scale } = readImageSize(c, where);
  const flags = c.u8(where);
  if (flags & ~(F64_COORDS | F64_ANGLES)) throw new MarkerFormatError(`${where} has unknown flags`);
  const maximaCount = c.u16(where);
  const minimaCount = c.u16(where);
  const maxima = readPoints(c, maximaCount, flags, `${where} maxima`);
  const minima = readPoints(c, minimaCount, flags, `${where} minima`);
  maxima.tree = readTree(c, maximaCount, `${where} maxima tree`);
  minima.tree = readTree(c, minimaCount, `${where} minima tree`);
  return { width, height, scale, maxima, minima };
}

function readPoints(c, count, flags, where) {
  const octave = c.bytesView(count, `${where} octaves`);
  const scale = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    if (octave[i] < 1 || octave[i] > 15) throw new MarkerFormatError(`${where} has an octave outside 1..15`);
    scale[i] = 2 ** octave[i];
  }
  let x;
  let y;
  if (flags & F64_COORDS) {
    x = c.planes(count, 8, where);
    y = c.planes(count, 8, where);
  } else {
    x = c.planes(count, 4, where);
    y = c.planes(count, 4, where);
    for (let i = 0; i < count; i++) {
      const f = scale[i];
      x[i] = x[i] * f + f / 2 - 0.5;
      y[i] = y[i] * f + f / 2 - 0.5;
    }
  }
  const angle = c.planes(count, flags & F64_ANGLES ? 8 : 4, where);
  for (let i = 0; i < count; i++) {
    if (!(Number.isFinite(x[i]) && Number.isFinite(y[i]) && Number.isFinite(angle[i]))) {
      throw new MarkerFormatError(`${where} has a coordinate or angle that is not finite`);
    }
  }
  const modes = c.bytesView(count, `${where} descriptor modes`);
  const descriptors = new Uint32Array(count * DESCRIPTOR_WORDS);
  const position = new Int32Array(FREAK_POINT_COUNT);
  const remaining = new Int32Array(FREAK_POINT_COUNT);
  for (let i = 0; i < count; i++) {
    if (modes[i] === 1) {
      const raw = c.bytesView(RAW_BYTES, where);
      for (let k = 0; k < DESCRIPTOR_WORDS; k++) {
        descriptors[i * DESCRIPTOR_WORDS + k] =
          ((raw[4 * k] << 24) | (raw[4 * k + 1] << 16) | (raw[4 * k + 2] << 8) | raw[4 * k + 3]) >>> 0;
      }
    } else if (modes[i] === 0) {
      decodeRanks(c.bytesView(RANK_BYTES, where), descriptors, i * DESCRIPTOR_WORDS, position, remaining);
    } else {
      throw new MarkerFormatError(`${where} has an unknown descriptor mode`);
    }
  }
  return { count, x, y, scale, angle, descriptors };
}

// The 666 comparison bits of a descriptor from the Lehmer code of its samples' ordering.
function decodeRanks(code, out, offset, position, remaining) {
  let bitPos = 0;
  for (let i = 0; i < FREAK_POINT_COUNT; i++) remaining[i] = i;
  let left = FREAK_POINT_COUNT;
  for (let rank = 0; rank < FREAK_POINT_COUNT; rank++) {
    let digit = 0;
    for (let b = 0; b < DIGIT_BITS[rank]; b++) {
      digit = (digit << 1) | ((code[bitPos >> 3] >> (7 - (bitPos & 7))) & 1);
      bitPos += 1;
    }
    if (digit >= left) throw new MarkerFormatError("a descriptor's rank code is out of range");
    const sample = remaining[digit];
    for (let j = digit; j < left - 1; j++) remaining[j] = remaining[j + 1];
    left -= 1;
    position[sample] = rank;
  }
  let word = 0;
  let bit = 0;
  let k = offset;
  for (let a = 0; a < FREAK_POINT_COUNT; a++) {
    for (let b = a + 1; b < FREAK_POINT_COUNT; b++) {
      word = (word << 1) | (position[a] < position[b] ? 1 : 0);
      if (++bit === 32) {
        out[k++] = word >>> 0;
        word = 0;
        bit = 0;
      }
    }
  }
  out[k] = (word << (32 - bit)) >>> 0;
}

function readTree(c, pointCount, where) {
  // Pre-order: kind (u8: 0 leaf, 1 inner), centre (u16, 0xFFFF at the root), then a leaf's u16
  // count and point indexes, or an inner node's u8 child count followed by its children.
  const tree = new TreeBuilder(pointCount);
  const seen = new Uint8Array(pointCount);
  const stack = [[-1, 1]]; // [parent id, depth]
  while (stack.length) {
    const [parent, depth] = stack.pop();
    if (depth > MAX_TREE_DEPTH) throw new MarkerFormatError(`${where} is deeper than ${MAX_TREE_DEPTH} levels`);
    if (tree.size >= 2 * pointCount + 1) throw new MarkerFormatError(`${where} has more nodes than points`);
    const kind = c.u8(where);
    const center = c.u16(where);
    if (depth === 1) {
      if (center !== NO_CENTER) throw new MarkerFormatError(`${where}: the root must not have a centre point`);
    } else if (center >= pointCount) {
      throw new MarkerFormatError(`${where}: centre point ${center} is out of range`);
    }
    const centre = depth === 1 ? -1 : center;
    if (kind === 0) {
      const n = c.u16(where);
      const list = c.bytesView(2 * n, where);
      const indexes = new Array(n);
      for (let i = 0; i < n; i++) {
        const index = list[2 * i] | (list[2 * i + 1] << 8);
        if (index >= pointCount) throw new MarkerFormatError(`${where}: point index ${index} is out of range`);
        if (seen[index]) throw new MarkerFormatError(`${where}: point ${index} is in two leaves`);
        seen[index] = 1;
        indexes[i] = index;
      }
      tree.leaf(parent, centre, indexes);
    } else if (kind === 1) {
      const n = c.u8(where);
      if (n === 0) throw new MarkerFormatError(`${where}: an inner node has no children`);
      const id = tree.inner(parent, centre);
      for (let i = 0; i < n; i++) stack.push([id, depth + 1]);
    } else {
      throw new MarkerFormatError(`${where}: unknown node kind ${kind}`);
    }
  }
  if (tree.pointFill !== pointCount) {
    throw new MarkerFormatError(`${where}: the leaves hold ${tree.pointFill} of ${pointCount} points`);
  }
  return tree.build();
}

// Collects nodes in pre-order (children after their parent, in order) and flattens them.
class TreeBuilder {
  constructor(pointCount) {
    this.isLeaf = [];
    this.centre = [];
    this.first = [];
    this.childLists = [];
    this.points = new Uint16Array(pointCount);
    this.pointFill = 0;
  }

  get size() {
    return this.isLeaf.length;
  }

  _add(parent, centre, leaf) {
    const id = this.isLeaf.length;
    this.isLeaf.push(leaf ? 1 : 0);
    this.centre.push(centre);
    this.first.push(leaf ? this.pointFill : 0);
    this.childLists.push(leaf ? null : []);
    if (parent >= 0) this.childLists[parent].push(id);
    return id;
  }

  leaf(parent, centre, indexes) {
    const id = this._add(parent, centre, true);
    for (const index of indexes) this.points[this.pointFill++] = index;
    this.childLists[id] = indexes.length;
    return id;
  }

  inner(parent, centre) {
    return this._add(parent, centre, false);
  }

  build() {
    const n = this.isLeaf.length;
    const tree = {
      isLeaf: Uint8Array.from(this.isLeaf),
      centre: Int32Array.from(this.centre),
      first: Int32Array.from(this.first),
      count: new Int32Array(n),
      children: new Int32Array(Math.max(0, n - 1)),
      points: this.points,
    };
    let fill = 0;
    for (let id = 0; id < n; id++) {
      if (this.isLeaf[id]) {
        tree.count[id] = this.childLists[id];
        continue;
      }
      tree.first[id] = fill;
      tree.count[id] = this.childLists[id].length;
      for (const child of this.childLists[id]) tree.children[fill++] = child;
    }
    return tree;
  }
}

function readTrackingSet(c, where) {
  const { width, height, scale } = readImageSize(c, where);
  const count = c.u16(where);
  const radius = c.u8(where);
  if (radius !== TEMPLATE_RADIUS) throw new MarkerFormatError(`${where} has templates of radius ${radius}, expected ${TEMPLATE_RADIUS}`);
  const xs = c.bytesView(2 * count, where);
  const ys = c.bytesView(2 * count, where);
  const x = new Uint16Array(count);
  const y = new Uint16Array(count);
  for (let i = 0; i < count; i++) {
    x[i] = xs[2 * i] | (xs[2 * i + 1] << 8);
    y[i] = ys[2 * i] | (ys[2 * i + 1] << 8);
    if (x[i] >= width || y[i] >= height) throw new MarkerFormatError(`${where} has a point outside the image`);
  }
  const side = 2 * radius + 1;
  const patches = c.bytesView(count * side * side, where).slice();
  return { width, height, scale, count, x, y, patches, patchRadius: radius };
}

// --- .mind documents (decoded msgpack) ---------------------------------------------------------

// The same in-memory marker from a decoded .mind ({v: 2, dataList}); trusts its structure only as
// far as the checks below go, so feed it files our compiler wrote.
export function markerFromMind(doc) {
  if (!doc || doc.v !== 2 || !Array.isArray(doc.dataList) || !doc.dataList.length) {
    throw new MarkerFormatError("not a MindAR 1.2 target file");
  }
  return {
    version: 0,
    targets: doc.dataList.map((target) => ({
      width: target.targetImage.width,
      height: target.targetImage.height,
      keyframes: target.matchingData.map((k) => ({
        width: k.width,
        height: k.height,
        scale: k.scale,
        maxima: mindPoints(k.maximaPoints, k.maximaPointsCluster.rootNode),
        minima: mindPoints(k.minimaPoints, k.minimaPointsCluster.rootNode),
      })),
      tracking: target.trackingData.map((set) => mindTrackingSet(set)),
    })),
  };
}

function mindPoints(list, root) {
  const count = list.length;
  const set = {
    count,
    x: Float64Array.from(list, (p) => p.x),
    y: Float64Array.from(list, (p) => p.y),
    scale: Float64Array.from(list, (p) => p.scale),
    angle: Float64Array.from(list, (p) => p.angle),
    descriptors: new Uint32Array(count * DESCRIPTOR_WORDS),
  };
  list.forEach((p, i) => set.descriptors.set(p.descriptors, i * DESCRIPTOR_WORDS));
  const tree = new TreeBuilder(count);
  const stack = [[root, -1]];
  while (stack.length) {
    const [node, parent] = stack.pop();
    const centre = node.centerPointIndex === null ? -1 : Number(node.centerPointIndex);
    if (node.leaf) {
      tree.leaf(parent, centre, node.pointIndexes);
    } else {
      const id = tree.inner(parent, centre);
      for (let i = node.children.length - 1; i >= 0; i--) stack.push([node.children[i], id]);
    }
  }
  set.tree = tree.build();
  return set;
}

function mindTrackingSet(set) {
  const count = set.points.length;
  const side = 2 * TEMPLATE_RADIUS + 1;
  const patches = new Uint8Array(count * side * side);
  const data = set.data;
  set.points.forEach((p, i) => {
    for (let dy = -TEMPLATE_RADIUS; dy <= TEMPLATE_RADIUS; dy++) {
      const yy = Math.min(Math.max(p.y + dy, 0), set.height - 1);
      for (let dx = -TEMPLATE_RADIUS; dx <= TEMPLATE_RADIUS; dx++) {
        const xx = Math.min(Math.max(p.x + dx, 0), set.width - 1);
        patches[i * side * side + (dy + TEMPLATE_RADIUS) * side + dx + TEMPLATE_RADIUS] = data[yy * set.width + xx];
      }
    }
  });
  return {
    width: set.width,
    height: set.height,
    scale: set.scale,
    count,
    x: Uint16Array.from(set.points, (p) => p.x),
    y: Uint16Array.from(set.points, (p) => p.y),
    patches,
    patchRadius: TEMPLATE_RADIUS,
  };
}
