// The arv viewer engine, main-thread side: camera, frames to the worker, video on the photo.
//
// API (for the viewer page; phase B wraps it in the engine module the fallback chain loads):
//
//   const engine = await startArvEngine({
//     markerUrl,            // the compact marker (.arvm); or markerBytes: ArrayBuffer/Uint8Array
//     container,            // element to fill with the camera picture (position it and size it;
//                           //   the engine adds the camera <video> and positions the targets' elements)
//     targets,              // [{ index, element }]: the marker target `index` (album position) and
//                           //   the element to lay on that photo, usually its playing <video>;
//                           //   element optional. Default: every marker target, no element.
//     onFound(i, corners),  // targets[i] appeared (corners as below)
//     onCorners(i, corners),// its corners on every processed frame while visible:
//                           //   [[x, y] x 4], top-left, top-right, bottom-right, bottom-left, in
//                           //   camera-video pixels (videoWidth x videoHeight, (0,0) = top-left)
//     onLost(i),            // targets[i] is gone (also when the page is hidden)
//     onFrame(),            // a camera frame was processed
//     onFps(fps),           // frames processed per second, once a second
//     onError(err),         // the engine broke after starting (worker crash, camera lost)
//     processingSize: 640,  // long side of the analysed frames
//     filter: {minCutoff, beta, dCutoff} or false (One Euro, see filter.js)
//     pipeline: {...}       // ArvTracker options (pipeline.js): maxTrack, warmupFrames, ...
//   });
//   engine.stop();          // camera, worker, loop and listeners gone; elements hidden
//   engine.setFilter({...});
//   engine.stats();         // {running, cameraOn, workerOn, source, processing, timing, fps,
//                           //  camera (label), video (size)}
//
// startArvEngine rejects with an ArvEngineError whose `code` names the page's error panel:
//   "unsupported"   no camera API (insecure page, old browser) or no module workers
//   "camera-denied" the visitor (or a policy) refused the camera
//   "no-camera"     no camera, or it cannot be started (busy, hardware error)
//   "load-failed"   the marker could not be downloaded or is not a valid compact marker
//
// Camera: the back camera, and on multi-lens phones the main lens (camera.js explains the
// choice), at up to 1280x720 for a sharp picture; frames are analysed at `processingSize`.
// Frames: on each new video frame (requestVideoFrameCallback, else requestAnimationFrame) when
// the worker is free (never more than one frame in flight, so latency stays one frame), sent
// as a WebCodecs VideoFrame (zero-copy transfer; the worker copies its luma plane into a buffer
// it reuses), else as an ImageBitmap drawn by the worker, else as RGBA read on this thread.
// Turning the phone changes the video's size: the next frames have the new size, the worker
// restarts its search, the overlay follows the new layout. Hidden page: camera and worker are
// stopped (no battery or memory used in the background); visible again: both restart.
// Memory stays flat: the worker reuses its buffers, and nothing here keeps per-frame state.

import { chooseCamera, listCameras } from "./camera.js";
import { processingSize } from "./grey.js";
import { elementSize, overlayTransform } from "./overlay.js";

export class ArvEngineError extends Error {
  constructor(code, message, cause) {
    super(message);
    this.name = "ArvEngineError";
    this.code = code;
    if (cause) this.cause = cause;
  }
}

export const ENGINE_DEFAULTS = {
  processingSize: 640,
  cameraWidth: 1280,
  cameraHeight: 720,
  startTimeoutMs: 20000,
  filter: null,
  pipeline: {},
  workerUrl: new URL("./worker.js", import.meta.url),
};

export async function startArvEngine(options) {
  const o = { ...ENGINE_DEFAULTS, ...options };
  if (!o.container) throw new ArvEngineError("unsupported", "startArvEngine needs a container element");
  if (typeof Worker === "undefined" || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    throw new ArvEngineError("unsupported", "this browser offers no camera access or no workers here");
  }
  const marker = o.markerBytes ? toArrayBuffer(o.markerBytes) : await fetchMarker(o.markerUrl);
  const engine = new Engine(o, marker);
  try {
    await engine.start();
  } catch (err) {
    engine.stop();
    throw err instanceof ArvEngineError ? err : new ArvEngineError("unsupported", String(err.message || err), err);
  }
  return {
    stop: () => engine.stop(),
    setFilter: (filter) => engine.setFilter(filter),
    stats: () => engine.stats(),
  };
}

function toArrayBuffer(bytes) {
  if (bytes instanceof ArrayBuffer) return bytes;
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
}

async function fetchMarker(url) {
  let response;
  try {
    response = await fetch(url, { credentials: "same-origin" });
  } catch (err) {
    throw new ArvEngineError("load-failed", `the marker did not load: ${err.message || err}`, err);
  }
  if (!response.ok) throw new ArvEngineError("load-failed", `the marker did not load (${response.status})`);
  return response.arrayBuffer();
}

function cameraError(err) {
  const name = err && err.name;
  if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") {
    return new ArvEngineError("camera-denied", "camera access was refused", err);
  }
  if (name === "TypeError") return new ArvEngineError("unsupported", "camera access is not available here", err);
  return new ArvEngineError("no-camera", `no usable camera (${name || err})`, err);
}

class Engine {
  constructor(options, marker) {
    this.o = options;
    this.marker = marker;
    this.container = options.container;
    this.stopped = false;
    this.paused = false;
    this.worker = null;
    this.stream = null;
    this.deviceId = null;
    this.cameraLabel = "";
    this.video = null;
    this.inFlight = false;
    this.frameId = 0;
    this.loopHandle = null;
    this.lastVideoTime = -1;
    this.source = null;
    this.workerCanvas = false;
    this.markerTargets = [];
    this.processed = 0;
    this.fps = 0;
    this.fpsWindowStart = 0;
    this.lastResult = null;
    this.containerSize = { width: 0, height: 0 };
    this.canvas = null;
    this.onVisibility = () => this._visibilityChanged();
    this.onVideoFrame = () => this._tick(true);
    this.onAnimationFrame = () => this._tick(false);
  }

  async start() {
    await this._startWorker();
    this.entries = (this.o.targets || this.markerTargets.map((_, index) => ({ index }))).map((t) => {
      const target = this.markerTargets[t.index];
      if (!target) throw new ArvEngineError("load-failed", `the marker has no target ${t.index}`);
      const size = elementSize(target.width, target.height);
      let added = false;
      if (t.element) {
        prepareElement(t.element, size);
        if (t.element.parentNode !== this.container) {
          this.container.append(t.element);
          added = true;
        }
      }
      return { index: t.index, element: t.element || null, added, size, visible: false };
    });
    // The camera picture and the elements are positioned against the container.
    if (getComputedStyle(this.container).position === "static") this.container.style.position = "relative";
    this.container.style.overflow = "hidden";
    await this._openCamera();
    this._watchContainer();
    document.addEventListener("visibilitychange", this.onVisibility);
    this._loop();
  }

  stop() {
    if (this.stopped) return;
    this.stopped = true;
    document.removeEventListener("visibilitychange", this.onVisibility);
    if (this.resizeObserver) this.resizeObserver.disconnect();
    if (this.onResize) window.removeEventListener("resize", this.onResize);
    this._halt();
    if (this.video) this.video.remove();
    for (const entry of this.entries || []) {
      if (!entry.element) continue;
      entry.element.style.visibility = "hidden";
      entry.element.style.transform = "";
      if (entry.added) entry.element.remove();
    }
  }

  setFilter(filter) {
    this.o.filter = filter;
    if (this.worker) this.worker.postMessage({ type: "filter", options: filterOptions(filter) });
  }

  stats() {
    const r = this.lastResult;
    return {
      running: !this.paused && !this.stopped,
      cameraOn: Boolean(this.stream && this.stream.active),
      workerOn: this.worker !== null,
      source: this.source,
      processing: r ? { width: r.width, height: r.height, ms: r.ms } : null,
      timing: r ? r.timing : null,
      fps: this.fps,
      camera: this.cameraLabel,
      video: this.video ? { width: this.video.videoWidth, height: this.video.videoHeight } : null,
    };
  }

  // --- Worker -----------------------------------------------------------------------------------
  _startWorker() {
    return new Promise((resolve, reject) => {
      let worker;
      try {
        worker = new Worker(this.o.workerUrl, { type: "module" });
      } catch (err) {
        reject(new ArvEngineError("unsupported", `module workers are not available: ${err.message || err}`, err));
        return;
      }
      this.worker = worker;
      let ready = false;
      const timer = setTimeout(() => reject(new ArvEngineError("unsupported", "the tracking worker did not start")), this.o.startTimeoutMs);
      worker.onerror = (event) => {
        clearTimeout(timer);
        event.preventDefault();
        const err = new ArvEngineError("unsupported", `the tracking worker failed: ${event.message || "error"}`);
        if (ready) this._fail(err);
        else reject(err);
      };
      worker.onmessage = (event) => {
        const data = event.data;
        if (data.type === "ready") {
          clearTimeout(timer);
          ready = true;
          this.markerTargets = data.targets;
          this.workerCanvas = data.canvas;
          resolve();
        } else if (data.type === "error") {
          clearTimeout(timer);
          reject(new ArvEngineError(data.code, data.message));
        } else if (data.type === "result") {
          this._result(data);
        } else if (data.type === "frame-error") {
          this._downgrade(data);
        } else if (data.type === "fatal") {
          this._fail(new ArvEngineError("unsupported", `the tracker failed: ${data.message}`));
        }
      };
      const pipeline = { ...this.o.pipeline };
      if (this.o.filter === false) pipeline.filter = false;
      else if (this.o.filter) pipeline.filterOptions = filterOptions(this.o.filter);
      // A copy: the original stays here for a restart after the page was hidden.
      const copy = this.marker.slice(0);
      worker.postMessage({ type: "init", marker: copy, options: { processingSize: this.o.processingSize, pipeline } }, [copy]);
    });
  }

  // --- Camera -----------------------------------------------------------------------------------
  async _openCamera() {
    const size = { width: { ideal: this.o.cameraWidth }, height: { ideal: this.o.cameraHeight } };
    const first = this.deviceId ? { deviceId: { exact: this.deviceId }, ...size } : { facingMode: { ideal: "environment" }, ...size };
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: false, video: first });
    } catch (err) {
      throw cameraError(err);
    }
    if (!this.deviceId) {
      // Labels are readable now: switch to the main back lens if this is another one.
      try {
        const current = stream.getVideoTracks()[0];
        const currentId = current && current.getSettings().deviceId;
        const wanted = chooseCamera(await listCameras(navigator.mediaDevices));
        if (wanted && currentId && wanted !== currentId) {
          stream.getTracks().forEach((t) => t.stop());
          stream = await navigator.mediaDevices.getUserMedia({ audio: false, video: { deviceId: { exact: wanted }, ...size } });
        }
      } catch (err) {
        if (!stream.active) throw cameraError(err);
        // Keep the first camera: a working picture beats the ideal lens.
      }
    }
    if (this.stopped) {
      stream.getTracks().forEach((t) => t.stop());
      throw new ArvEngineError("unsupported", "stopped while starting");
    }
    this.stream = stream;
    const track = stream.getVideoTracks()[0];
    this.deviceId = (track && track.getSettings().deviceId) || this.deviceId;
    this.cameraLabel = (track && track.label) || "";
    if (track) track.addEventListener("ended", () => this._fail(new ArvEngineError("no-camera", "the camera stopped")));
    if (!this.video) {
      const video = document.createElement("video");
      video.muted = true;
      video.playsInline = true;
      video.setAttribute("playsinline", "");
      video.setAttribute("muted", "");
      video.autoplay = true;
      Object.assign(video.style, {
        position: "absolute", left: "0", top: "0", width: "100%", height: "100%", objectFit: "cover", zIndex: "0",
      });
      this.container.prepend(video);
      this.video = video;
    }
    this.video.srcObject = stream;
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new ArvEngineError("no-camera", "the camera gave no picture")), this.o.startTimeoutMs);
      const ready = () => {
        if (!this.video.videoWidth) return;
        clearTimeout(timer);
        resolve();
      };
      this.video.addEventListener("loadedmetadata", ready, { once: true });
      ready();
    });
    try {
      await this.video.play();
    } catch (err) {
      // Autoplay of a muted inline video is allowed everywhere it matters; frames still arrive.
    }
  }

  _watchContainer() {
    const measure = () => {
      this.containerSize = { width: this.container.clientWidth, height: this.container.clientHeight };
    };
    measure();
    if (typeof ResizeObserver === "function") {
      this.resizeObserver = new ResizeObserver(measure);
      this.resizeObserver.observe(this.container);
    } else {
      this.onResize = measure;
      window.addEventListener("resize", measure);
    }
  }

  // --- Frame loop -------------------------------------------------------------------------------
  _loop() {
    if (this.stopped || this.paused) return;
    if (!this.source) this.source = initialSource(this.workerCanvas);
    const video = this.video;
    if (typeof video.requestVideoFrameCallback === "function") {
      this.loopHandle = { video: video.requestVideoFrameCallback(this.onVideoFrame) };
    } else {
      this.loopHandle = { animation: requestAnimationFrame(this.onAnimationFrame) };
    }
  }

  _tick(isVideoFrame) {
    if (this.stopped || this.paused) return;
    this._loop();
    const video = this.video;
    if (!isVideoFrame) {
      if (video.currentTime === this.lastVideoTime) return;
      this.lastVideoTime = video.currentTime;
    }
    if (this.inFlight || !video.videoWidth || video.readyState < 2) return;
    this._send();
  }

  _send() {
    const video = this.video;
    const id = ++this.frameId;
    const time = performance.now();
    this.inFlight = true;
    try {
      if (this.source === "videoframe") {
        const frame = new VideoFrame(video, { timestamp: Math.round(time * 1000) });
        this.worker.postMessage({ type: "frame", id, time, frame }, [frame]);
      } else if (this.source === "bitmap") {
        const size = processingFor(video, this.o.processingSize);
        createImageBitmap(video, { resizeWidth: size.width, resizeHeight: size.height, resizeQuality: "low" }).then(
          (bitmap) => {
            if (this.worker && !this.paused) this.worker.postMessage({ type: "frame", id, time, bitmap }, [bitmap]);
            else bitmap.close();
          },
          (err) => this._downgrade({ source: "bitmap", message: String(err) }),
        );
      } else {
        const size = processingFor(video, this.o.processingSize);
        if (!this.canvas) {
          this.canvas = document.createElement("canvas");
          this.canvasContext = this.canvas.getContext("2d", { willReadFrequently: true });
        }
        if (this.canvas.width !== size.width || this.canvas.height !== size.height) {
          this.canvas.width = size.width;
          this.canvas.height = size.height;
        }
        this.canvasContext.drawImage(video, 0, 0, size.width, size.height);
        const rgba = this.canvasContext.getImageData(0, 0, size.width, size.height).data.buffer;
        this.worker.postMessage({ type: "frame", id, time, rgba, width: size.width, height: size.height }, [rgba]);
      }
    } catch (err) {
      this._downgrade({ source: this.source, message: String(err) });
    }
  }

  // This way of reading frames does not work here: use the next one.
  _downgrade({ source }) {
    this.inFlight = false;
    if (source !== this.source) return;
    if (this.source === "videoframe") this.source = this.workerCanvas && typeof createImageBitmap === "function" ? "bitmap" : "canvas";
    else if (this.source === "bitmap") this.source = "canvas";
    else this._fail(new ArvEngineError("unsupported", "camera frames cannot be read in this browser"));
  }

  _result(data) {
    this.inFlight = false;
    if (this.stopped || this.paused) return;
    this.lastResult = data;
    this.processed += 1;
    const now = performance.now();
    if (!this.fpsWindowStart) this.fpsWindowStart = now;
    if (now - this.fpsWindowStart >= 1000) {
      this.fps = Math.round((this.processed * 1000) / (now - this.fpsWindowStart));
      this.processed = 0;
      this.fpsWindowStart = now;
      if (this.o.onFps) this.o.onFps(this.fps);
    }
    if (this.o.onFrame) this.o.onFrame();
    const video = this.video;
    const vw = video.videoWidth;
    const vh = video.videoHeight;
    // A result from before the phone turned describes a frame of another shape: skip its corners.
    const sameShape = Math.abs(vw / vh - data.width / data.height) < 0.02;
    const sx = vw / data.width;
    const sy = vh / data.height;
    this.entries.forEach((entry, i) => {
      const r = data.targets[entry.index];
      if (!r) return;
      if (r.visible && r.corners && sameShape) {
        const c = r.corners;
        const videoCorners = [[c[0] * sx, c[1] * sy], [c[2] * sx, c[3] * sy], [c[4] * sx, c[5] * sy], [c[6] * sx, c[7] * sy]];
        if (!entry.visible) {
          entry.visible = true;
          if (this.o.onFound) this.o.onFound(i, videoCorners);
        }
        if (this.o.onCorners) this.o.onCorners(i, videoCorners);
        this._place(entry, videoCorners.flat(), vw, vh);
      } else if (!r.visible && entry.visible) {
        this._hide(entry, i);
      }
    });
  }

  _place(entry, corners, vw, vh) {
    if (!entry.element) return;
    const { width, height } = this.containerSize;
    const transform = overlayTransform(corners, vw, vh, width, height, entry.size.width, entry.size.height);
    if (!transform) return;
    entry.element.style.transform = transform;
    entry.element.style.visibility = "visible";
  }

  _hide(entry, i) {
    entry.visible = false;
    if (entry.element) entry.element.style.visibility = "hidden";
    if (this.o.onLost) this.o.onLost(i);
  }

  // --- Hidden page, errors, teardown -------------------------------------------------------------
  _visibilityChanged() {
    if (this.stopped) return;
    if (document.visibilityState === "hidden") {
      this._halt();
    } else if (this.paused && !this.failed) {
      this._resume().catch((err) => this._fail(err));
    }
  }

  // Camera off, worker gone, loop stopped; targets reported lost.
  _halt() {
    this.paused = true;
    if (this.loopHandle) {
      if (this.loopHandle.video !== undefined && this.video && this.video.cancelVideoFrameCallback) {
        this.video.cancelVideoFrameCallback(this.loopHandle.video);
      }
      if (this.loopHandle.animation !== undefined) cancelAnimationFrame(this.loopHandle.animation);
      this.loopHandle = null;
    }
    if (this.worker) {
      this.worker.terminate();
      this.worker = null;
    }
    this.inFlight = false;
    if (this.stream) {
      this.stream.getTracks().forEach((t) => t.stop());
      this.stream = null;
    }
    if (this.video) this.video.srcObject = null;
    (this.entries || []).forEach((entry, i) => {
      if (entry.visible) this._hide(entry, i);
    });
  }

  async _resume() {
    await this._startWorker();
    await this._openCamera();
    if (this.stopped || document.visibilityState === "hidden") return;
    this.paused = false;
    this._loop();
  }

  _fail(err) {
    if (this.stopped || this.failed) return;
    this.failed = true;
    this._halt();
    if (this.o.onError) this.o.onError(err);
  }
}

// The One Euro parameters given (the others keep their defaults).
function filterOptions(filter) {
  const out = {};
  for (const key of ["minCutoff", "beta", "dCutoff"]) if (filter && Number.isFinite(filter[key])) out[key] = filter[key];
  return out;
}

function initialSource(workerCanvas) {
  if (typeof VideoFrame === "function") return "videoframe";
  if (workerCanvas && typeof createImageBitmap === "function") return "bitmap";
  return "canvas";
}

function processingFor(video, maxSide) {
  return processingSize(video.videoWidth, video.videoHeight, maxSide);
}

function prepareElement(element, size) {
  Object.assign(element.style, {
    position: "absolute",
    left: "0",
    top: "0",
    width: `${size.width}px`,
    height: `${size.height}px`,
    objectFit: "cover",
    transformOrigin: "0 0",
    visibility: "hidden",
    pointerEvents: "none",
    zIndex: "1",
  });
}
