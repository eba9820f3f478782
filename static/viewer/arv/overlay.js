// Where the video goes on screen, without three.js: pure geometry (no DOM; Node tests it).
//
// The camera video fills its container like CSS `object-fit: cover` (centred, cropped, never
// stretched). The photo's corners, tracked in camera-video pixels, are mapped into container
// pixels, and the playing video element is laid on that quadrilateral by a CSS matrix3d: the
// projective transform taking the element's own box (0,0)-(w,h) to the four corners. The element
// has the photo's aspect ratio and shows its video with `object-fit: cover` — the centre of the
// video at its own aspect ratio, cropped to the photo, never stretched, exactly the rule of
// viewer.js coverPlane().

// Scale and offset placing a video of vw x vh into a cw x ch box like object-fit: cover.
export function coverFit(vw, vh, cw, ch) {
  const scale = Math.max(cw / vw, ch / vh);
  return { scale, x: (cw - vw * scale) / 2, y: (ch - vh * scale) / 2 };
}

// corners: 8 numbers (x0, y0, ... x3, y3) in video pixels -> out, in container pixels.
export function videoToContainer(corners, fit, out = new Float64Array(8)) {
  for (let i = 0; i < 4; i++) {
    out[2 * i] = corners[2 * i] * fit.scale + fit.x;
    out[2 * i + 1] = corners[2 * i + 1] * fit.scale + fit.y;
  }
  return out;
}

// Homography (row-major, H[8] = 1) taking the rectangle (0,0), (w,0), (w,h), (0,h) to the quad
// q = [x0, y0, x1, y1, x2, y2, x3, y3] (top-left, top-right, bottom-right, bottom-left), or null
// when q is not a convex quadrilateral of positive area (a photo seen by a camera always is).
// Heckbert's square-to-quad mapping, then scaled to the rectangle.
export function rectToQuad(w, h, q, out = new Float64Array(9)) {
  if (!convex(q)) return null;
  const [x0, y0, x1, y1, x2, y2, x3, y3] = q;
  const dx1 = x1 - x2;
  const dx2 = x3 - x2;
  const dx3 = x0 - x1 + x2 - x3;
  const dy1 = y1 - y2;
  const dy2 = y3 - y2;
  const dy3 = y0 - y1 + y2 - y3;
  let g = 0;
  let k = 0;
  if (dx3 !== 0 || dy3 !== 0) {
    const den = dx1 * dy2 - dx2 * dy1;
    if (Math.abs(den) < 1e-12) return null;
    g = (dx3 * dy2 - dx2 * dy3) / den;
    k = (dx1 * dy3 - dx3 * dy1) / den;
  }
  const a = x1 - x0 + g * x1;
  const b = x3 - x0 + k * x3;
  const d = y1 - y0 + g * y1;
  const e = y3 - y0 + k * y3;
  out[0] = a / w; out[1] = b / h; out[2] = x0;
  out[3] = d / w; out[4] = e / h; out[5] = y0;
  out[6] = g / w; out[7] = k / h; out[8] = 1;
  return out.every(Number.isFinite) ? out : null;
}

function convex(q) {
  let sign = 0;
  let area = 0;
  for (let i = 0; i < 4; i++) {
    const a = (i + 3) % 4;
    const c = (i + 1) % 4;
    const turn = (q[2 * i] - q[2 * a]) * (q[2 * c + 1] - q[2 * i + 1]) - (q[2 * i + 1] - q[2 * a + 1]) * (q[2 * c] - q[2 * i]);
    if (!(Math.abs(turn) > 1e-9)) return false;
    if (sign && Math.sign(turn) !== sign) return false;
    sign = Math.sign(turn);
    area += q[2 * i] * q[2 * c + 1] - q[2 * c] * q[2 * i + 1];
  }
  return Math.abs(area) > 1e-6;
}

// The CSS transform applying H to an element whose transform-origin is its top-left corner.
export function matrix3d(H) {
  const v = [H[0], H[3], 0, H[6], H[1], H[4], 0, H[7], 0, 0, 1, 0, H[2], H[5], 0, H[8]];
  return `matrix3d(${v.map((x) => +x.toPrecision(10)).join(",")})`;
}

// The size to give the element laid on the photo: the photo's aspect ratio, about `base` CSS
// pixels on its long side (the matrix scales it to the screen; this only sets the resolution at
// which the browser composites the video).
export function elementSize(photoWidth, photoHeight, base = 1024) {
  const s = base / Math.max(photoWidth, photoHeight);
  return { width: Math.round(photoWidth * s), height: Math.round(photoHeight * s) };
}

// The whole chain: corners in video pixels -> the CSS transform of an element of size (ew, eh)
// inside a container (cw, ch) showing the video (vw, vh) with object-fit: cover; null when the
// quadrilateral cannot be drawn.
export function overlayTransform(corners, vw, vh, cw, ch, ew, eh) {
  const quad = videoToContainer(corners, coverFit(vw, vh, cw, ch));
  const H = rectToQuad(ew, eh, quad);
  return H ? matrix3d(H) : null;
}
