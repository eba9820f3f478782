// Pure helpers of the engine: the overlay's CSS transform, grey conversion and downscaling, the
// choice of camera on multi-lens phones, homography tools and pose.

import assert from "node:assert/strict";
import test from "node:test";
import { chooseCamera } from "../static/viewer/arv/camera.js";
import { BoxBounds, GreyConverter, processingSize } from "../static/viewer/arv/grey.js";
import { applyH, Homographies, invert3, Lcg, plausibleQuad, poseFromHomography } from "../static/viewer/arv/homography.js";
import { coverFit, elementSize, matrix3d, overlayTransform, rectToQuad, videoToContainer } from "../static/viewer/arv/overlay.js";
import { seededRandom } from "./support/scene.mjs";

const close = (a, b, eps = 1e-6) => Math.abs(a - b) <= eps;

test("cover fit: the video fills the box, centred, never stretched", () => {
  const fit = coverFit(640, 480, 390, 844); // a portrait phone showing a landscape camera
  assert.ok(close(fit.scale, 844 / 480));
  assert.ok(close(fit.y, 0));
  assert.ok(close(fit.x, (390 - 640 * fit.scale) / 2));
  const wide = coverFit(640, 480, 1280, 720);
  assert.ok(close(wide.scale, 2) && close(wide.x, 0) && close(wide.y, (720 - 960) / 2));
});

test("rectToQuad maps the element's corners onto the quadrilateral", () => {
  const quad = [100, 50, 420, 80, 400, 380, 90, 350];
  const H = rectToQuad(800, 600, quad);
  const p = [0, 0];
  [[0, 0], [800, 0], [800, 600], [0, 600]].forEach(([x, y], i) => {
    applyH(H, x, y, p);
    assert.ok(close(p[0], quad[2 * i], 1e-6) && close(p[1], quad[2 * i + 1], 1e-6), `corner ${i}`);
  });
  // a parallelogram gives an affine map
  const affine = rectToQuad(10, 10, [0, 0, 10, 0, 15, 10, 5, 10]);
  assert.equal(affine[6], 0);
  assert.equal(affine[7], 0);
  assert.equal(rectToQuad(10, 10, [0, 0, 0, 0, 0, 0, 0, 0]), null);
});

test("matrix3d is the column-major CSS form of the homography", () => {
  const H = [1, 2, 3, 4, 5, 6, 0.001, 0.002, 1];
  assert.equal(matrix3d(H), "matrix3d(1,4,0,0.001,2,5,0,0.002,0,0,1,0,3,6,0,1)");
});

test("the whole chain: video corners to the element's transform", () => {
  // the photo fills the left half of a 640x480 video shown in a 1280x960 box: scale 2
  const corners = [0, 0, 320, 0, 320, 480, 0, 480];
  const t = overlayTransform(corners, 640, 480, 1280, 960, 400, 600);
  assert.equal(t, "matrix3d(1.6,0,0,0,0,1.6,0,0,0,0,1,0,0,0,0,1)");
  assert.deepEqual(Array.from(videoToContainer(corners, coverFit(640, 480, 1280, 960))), [0, 0, 640, 0, 640, 960, 0, 960]);
  assert.deepEqual(elementSize(4000, 3000), { width: 1024, height: 768 });
  assert.equal(overlayTransform([1, 1, 1, 1, 1, 1, 1, 1], 640, 480, 640, 480, 10, 10), null);
});

test("grey: (R+G+B)/3 like the compiler, box-downscaled, video-range luma stretched", () => {
  const converter = new GreyConverter();
  const rgba = Uint8Array.from([10, 20, 31, 255, 255, 255, 255, 255, 0, 0, 2, 0, 7, 8, 9, 1]);
  const out = new Uint8Array(4);
  converter.fromRGBA(rgba, 0, 16, 4, 1, out, 4, 1);
  assert.deepEqual(Array.from(out), [20, 255, 0, 8]);
  // 4x2 -> 2x1: means of 2x2 boxes
  const plane = Uint8Array.from([0, 2, 100, 100, 4, 6, 100, 104]);
  const small = new Uint8Array(2);
  converter.fromPlane(plane, 0, 4, 4, 2, small, 2, 1);
  assert.deepEqual(Array.from(small), [3, 101]);
  // an offset and a stride wider than the row
  const padded = Uint8Array.from([9, 9, 16, 235, 9, 9, 126, 16, 9]);
  const stretched = new Uint8Array(2 * 2);
  converter.fromPlane(padded, 2, 4, 2, 2, stretched, 2, 2, true);
  assert.deepEqual(Array.from(stretched), [0, 255, 128, 0]);
  // downscaling by 3 (1920 -> 640) covers every source column exactly once
  const bounds = new BoxBounds(1920, 640);
  assert.equal(bounds.lo[0], 0);
  assert.equal(bounds.lo[640], 1920);
  for (let i = 0; i < 640; i++) assert.equal(bounds.lo[i + 1] - bounds.lo[i], 3);
  const odd = new BoxBounds(7, 5);
  for (let i = 0; i < 5; i++) assert.ok(odd.lo[i + 1] > odd.lo[i]);
  assert.deepEqual(processingSize(1280, 720, 640), { width: 640, height: 360 });
  assert.deepEqual(processingSize(480, 640, 640), { width: 480, height: 640 });
  assert.deepEqual(processingSize(1080, 1920, 640), { width: 360, height: 640 });
});

test("camera choice: the main back lens of a multi-lens phone", () => {
  // iOS 17 (Safari): the plain "Back Camera" is the main wide lens
  const ios = [
    { deviceId: "f", label: "Front Camera" },
    { deviceId: "dw", label: "Back Dual Wide Camera" },
    { deviceId: "uw", label: "Back Ultra Wide Camera" },
    { deviceId: "t", label: "Back Triple Camera" },
    { deviceId: "tele", label: "Back Telephoto Camera" },
    { deviceId: "main", label: "Back Camera" },
  ];
  assert.equal(chooseCamera(ios), "main");
  // Android Chrome: the first "facing back" camera, not the others
  const android = [
    { deviceId: "a2", label: "camera2 2, facing back", facingMode: ["environment"] },
    { deviceId: "a1", label: "camera2 1, facing front", facingMode: ["user"] },
    { deviceId: "a0", label: "camera2 0, facing back", facingMode: ["environment"] },
    { deviceId: "a3", label: "camera2 3, facing back", facingMode: ["environment"] },
  ];
  assert.equal(chooseCamera(android), "a0");
  // only the torch tells the main module apart
  const torch = [
    { deviceId: "x", label: "Rear camera 2", facingMode: ["environment"] },
    { deviceId: "y", label: "Rear camera 1", facingMode: ["environment"], torch: true },
  ];
  assert.equal(chooseCamera(torch), "y");
  // ultra-wide labels lose even when listed first
  assert.equal(chooseCamera([{ deviceId: "u", label: "Back ultra wide" }, { deviceId: "m", label: "Back wide" }]), "m");
  // a laptop's single webcam is kept; labels hidden (no permission yet): no opinion
  assert.equal(chooseCamera([{ deviceId: "w", label: "Integrated Webcam" }]), "w");
  assert.equal(chooseCamera([{ deviceId: "a", label: "" }, { deviceId: "b", label: "" }]), null);
  assert.equal(chooseCamera([]), null);
});

test("homography: exact from 4 points, robust to outliers, deterministic", () => {
  const H0 = Float64Array.of(1.1, 0.2, 40, -0.1, 0.95, 20, 0.0005, -0.0003, 1);
  const random = seededRandom(9);
  const n = 60;
  const src = new Float64Array(2 * n);
  const dst = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    src[2 * i] = random() * 400;
    src[2 * i + 1] = random() * 300;
    applyH(H0, src[2 * i], src[2 * i + 1], dst, 2 * i);
    if (i % 3 === 0) {
      dst[2 * i] += 30 + random() * 100; // a third are wrong pairs
      dst[2 * i + 1] -= 50 * random();
    }
  }
  const geo = new Homographies(16);
  const H = new Float64Array(9);
  const inliers = geo.ransac(src, dst, n, H, { threshold: 2, iterations: 64, minInliers: 10 });
  assert.equal(inliers, 40);
  for (let i = 0; i < 9; i++) assert.ok(close(H[i], H0[i], 1e-6 * Math.max(1, Math.abs(H0[i]))), `H[${i}]`);
  const again = new Float64Array(9);
  assert.equal(geo.ransac(src, dst, n, again, { threshold: 2, iterations: 64, minInliers: 10 }), 40);
  assert.deepEqual(again, H);
  // too few pairs, or nothing consistent
  assert.equal(geo.ransac(src, dst, 3, H), 0);
  // The MSVC rand() sequence from seed 1234, as MindAR's RANSAC draws it.
  const lcg = new Lcg();
  let seed = 1234;
  for (let i = 0; i < 5; i++) {
    seed = (214013 * seed + 2531011) % 2 ** 31;
    assert.equal(lcg.next(1000), ((seed >> 16) & 0x7fff) % 1000);
  }
});

test("plausible quadrilaterals and the camera pose", () => {
  assert.ok(plausibleQuad(Float64Array.of(1, 0, 0, 0, 1, 0, 0, 0, 1), 100, 100, 10));
  assert.ok(!plausibleQuad(Float64Array.of(-1, 0, 100, 0, 1, 0, 0, 0, 1), 100, 100, 10), "mirrored");
  assert.ok(!plausibleQuad(Float64Array.of(0.01, 0, 0, 0, 0.01, 0, 0, 0, 1), 100, 100, 10), "too small");
  assert.ok(!plausibleQuad(Float64Array.of(1, 0, 0, 0, 1, 0, -0.02, 0, 1), 100, 100, 10), "behind the camera");
  // A photo 400 px wide, frontal, 1000 px from a camera with f = 500: H = K [r1 r2 t]
  const f = 500;
  const H = Float64Array.of(f, 0, 320 * 1000 - 200 * f, 0, f, 240 * 1000 - 150 * f, 0, 0, 1000);
  const pose = poseFromHomography(H, f, 320, 240);
  assert.ok(close(pose[0], 1) && close(pose[5], 1) && close(pose[10], 1), "identity rotation");
  assert.ok(close(pose[3], -200) && close(pose[7], -150) && close(pose[11], 1000), "translation in photo pixels");
  const inv = new Float64Array(9);
  assert.ok(invert3(H, inv));
  assert.ok(!invert3(new Float64Array(9), inv));
});
