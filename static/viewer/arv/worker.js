// The arv engine's Web Worker: turns camera frames into grey frames of the processing size and
// runs the pipeline (detection, matching, tracking, filtering) off the page's main thread.
//
// Messages in (from engine.js):
//   {type: "init", marker: ArrayBuffer, options}      -> {type: "ready", targets: [{width, height}],
//                                                         canvas: bool} or {type: "error", code, message}
//   {type: "frame", id, time, frame: VideoFrame}        camera frame (WebCodecs), transferred
//   {type: "frame", id, time, bitmap: ImageBitmap}      camera frame as a bitmap, transferred
//   {type: "frame", id, time, rgba: ArrayBuffer, width, height}   RGBA pixels at processing size
//   {type: "filter", options}                           new One Euro parameters
// Messages out:
//   {type: "result", id, time, width, height, ms, targets: [{visible, found, lost, corners}]}
//        corners: 8 numbers in processing-frame pixels (the engine scales them to the video)
//   {type: "frame-error", id, source, message}          this kind of frame cannot be read here
//   {type: "fatal", id, message}                        the pipeline failed (a bug): stop
//
// Buffers (grey frame, VideoFrame copy, canvas) are kept between frames and only reallocated
// when the camera's size changes.

import { GreyConverter, processingSize } from "./grey.js";
import { MarkerFormatError, readMarker } from "./marker.js";
import { ArvTracker } from "./pipeline.js";

let pipeline = null;
let maxSide = 640;
const converter = new GreyConverter();
let grey = new Uint8Array(0);
let copyBuffer = new Uint8Array(0);
let canvas = null;
let context = null;

const PLANAR = new Set(["I420", "I420A", "I422", "I444", "NV12"]);
const PACKED = new Set(["RGBA", "RGBX", "BGRA", "BGRX"]);

function greyBuffer(width, height) {
  if (grey.length !== width * height) grey = new Uint8Array(width * height);
  return grey;
}

function canvasContext(width, height) {
  if (typeof OffscreenCanvas === "undefined") return null;
  if (!canvas) {
    canvas = new OffscreenCanvas(width, height);
    context = canvas.getContext("2d", { willReadFrequently: true });
  }
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  return context;
}

// Draws an image source at processing size and reads it back (the fallback for frames whose
// pixels cannot be copied directly).
function greyFromDrawable(source, sw, sh) {
  const size = processingSize(sw, sh, maxSide);
  const ctx = canvasContext(size.width, size.height);
  if (!ctx) throw new Error("OffscreenCanvas 2D is not available in this worker");
  ctx.drawImage(source, 0, 0, size.width, size.height);
  const pixels = ctx.getImageData(0, 0, size.width, size.height).data;
  const out = greyBuffer(size.width, size.height);
  converter.fromRGBA(pixels, 0, 4 * size.width, size.width, size.height, out, size.width, size.height);
  return size;
}

async function greyFromVideoFrame(frame) {
  const format = frame.format;
  const rect = frame.visibleRect;
  const sw = rect ? rect.width : frame.displayWidth;
  const sh = rect ? rect.height : frame.displayHeight;
  if (!(PLANAR.has(format) || PACKED.has(format)) || frame.displayWidth !== sw || frame.displayHeight !== sh) {
    // Opaque (GPU) frames, odd formats, or frames the camera scales for display: draw them.
    return greyFromDrawable(frame, frame.displayWidth, frame.displayHeight);
  }
  // copyTo() copies the visible rectangle; the layout says where each plane landed.
  const bytes = frame.allocationSize();
  if (copyBuffer.length < bytes) copyBuffer = new Uint8Array(bytes);
  const layout = await frame.copyTo(copyBuffer);
  const size = processingSize(sw, sh, maxSide);
  const out = greyBuffer(size.width, size.height);
  const { offset, stride } = layout[0];
  if (PACKED.has(format)) converter.fromRGBA(copyBuffer, offset, stride, sw, sh, out, size.width, size.height);
  else converter.fromPlane(copyBuffer, offset, stride, sw, sh, out, size.width, size.height, true);
  return size;
}

async function handleFrame(data) {
  let size;
  const source = data.frame ? "videoframe" : data.bitmap ? "bitmap" : "rgba";
  try {
    if (data.frame) {
      try {
        size = await greyFromVideoFrame(data.frame);
      } finally {
        data.frame.close();
      }
    } else if (data.bitmap) {
      try {
        size = greyFromDrawable(data.bitmap, data.bitmap.width, data.bitmap.height);
      } finally {
        data.bitmap.close();
      }
    } else {
      size = { width: data.width, height: data.height };
      const out = greyBuffer(size.width, size.height);
      converter.fromRGBA(new Uint8Array(data.rgba), 0, 4 * size.width, size.width, size.height, out, size.width, size.height);
    }
  } catch (err) {
    postMessage({ type: "frame-error", id: data.id, source, message: String((err && err.message) || err) });
    return;
  }
  const started = performance.now();
  let results;
  try {
    results = pipeline.process(grey, size.width, size.height, data.time);
  } catch (err) {
    // A bug, not a property of this frame: the page hands over to the next engine.
    postMessage({ type: "fatal", id: data.id, message: String((err && err.stack) || err) });
    return;
  }
  const ms = performance.now() - started;
  postMessage({
    type: "result",
    id: data.id,
    time: data.time,
    width: size.width,
    height: size.height,
    ms,
    timing: pipeline.timing,
    targets: results.map((r) => ({ visible: r.visible, found: r.found, lost: r.lost, corners: r.visible ? Array.from(r.corners) : null })),
  });
}

function init(data) {
  let marker;
  try {
    marker = readMarker(new Uint8Array(data.marker));
  } catch (err) {
    const bad = err instanceof MarkerFormatError;
    postMessage({ type: "error", code: bad ? "load-failed" : "unsupported", message: String(err.message || err) });
    return;
  }
  const options = data.options || {};
  maxSide = options.processingSize || 640;
  pipeline = new ArvTracker(marker, options.pipeline || {});
  postMessage({
    type: "ready",
    targets: marker.targets.map((t) => ({ width: t.width, height: t.height })),
    canvas: typeof OffscreenCanvas !== "undefined",
  });
}

// Frames are handled one at a time, in order; the engine sends the next only after a result.
// handleFrame reports its own failures, so the queue never stays rejected.
let queue = Promise.resolve();
self.onmessage = (event) => {
  const data = event.data;
  if (data.type === "init") init(data);
  else if (data.type === "frame" && pipeline) {
    queue = queue.then(() => handleFrame(data)).catch((err) => {
      postMessage({ type: "fatal", id: data.id, message: String((err && err.stack) || err) });
    });
  } else if (data.type === "filter" && pipeline) pipeline.setFilter(data.options || {});
};
