// The AR viewer's shared part: find a printed photo and play its video on it, whatever the engine.
//
// The page's state lives in <body data-ar-state>: loading → scanning ⇄ found/lost, or error
// (with data-ar-error naming the cause). CSS shows the matching panel; tests poll the attribute.
// Every failure has a way out: the video can always be played full-screen.
//
// config.targets lists the photos of the marker: one on a photo's page, several on an album page.
// Each found photo gets its own analytics session, posted to its own beacon.
//
// Engines (mindar.js, nft.js, …) are tried in the order of config.engines, each in its variants
// (MindAR: TensorFlow.js on WebGL 2, then on WebGL 1): the first that starts serves the visit; if
// none does, the video plays full-screen. An engine module only starts its runtime (see
// ENGINES and startAttempt below for what it gets and must do); checks, panels, the fallback
// chain, sound, analytics and the page's contract (contract.js) are here, so engines behave the same.

import { CORNERS_EVERY_MS, FpsMeter, attemptPlan } from "arv-viewer-contract";

export const config = JSON.parse(document.getElementById("ar-config").textContent);
const body = document.body;
const startedAt = performance.now();
const IN_APP = /(Telegram|WhatsApp|Instagram|FBAN|FBAV|FB_IAB|VKClient|vkontakte|Line\/|MicroMessenger)/i;

function newSessionId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// What the chain settled on (engine, variant, failed attempts): album sessions start later.
let pendingSession = null;

// --- One analytics session per target: running totals, so any single post is enough ------------
class Session {
  constructor(target) {
    this.target = target;
    this.id = newSessionId();
    this.found = false;
    this.timeToFound = null;
    this.played = false;
    this.watched = 0;
    this.watchStart = null;
    this.engine = pendingSession ? pendingSession.engine : config.engine || "mindar";
    this.variant = pendingSession ? pendingSession.variant : "";
    // Attempts that failed before the one that served (0: the first choice worked).
    this.fallbacks = pendingSession ? pendingSession.fallbacks : 0;
    this.error = "";
  }
  startWatching() {
    this.played = true;
    if (this.watchStart === null) this.watchStart = performance.now();
  }
  stopWatching() {
    if (this.watchStart !== null) {
      this.watched += (performance.now() - this.watchStart) / 1000;
      this.watchStart = null;
    }
  }
  send() {
    const running = this.watchStart === null ? 0 : (performance.now() - this.watchStart) / 1000;
    const payload = JSON.stringify({
      session: this.id,
      duration_seconds: Math.round((performance.now() - startedAt) / 1000),
      found: this.found,
      time_to_found_ms: this.timeToFound,
      video_played: this.played,
      watch_seconds: Math.round(this.watched + running),
      engine: this.engine,
      variant: this.variant,
      fallbacks: this.fallbacks,
      error: this.error,
    });
    const blob = new Blob([payload], { type: "application/json" });
    if (!(navigator.sendBeacon && navigator.sendBeacon(this.target.beaconUrl, blob))) {
      fetch(this.target.beaconUrl, { method: "POST", body: payload, headers: { "Content-Type": "application/json" }, keepalive: true, credentials: "omit" }).catch(() => {});
    }
  }
}

// A single-photo page always has a session (a visit that never finds the photo still counts);
// an album only starts one when a photo is found or played.
const sessions = new Map();
function sessionFor(target) {
  if (!sessions.has(target)) sessions.set(target, new Session(target));
  return sessions.get(target);
}
if (config.targets.length === 1) sessionFor(config.targets[0]);
function sendAll() { sessions.forEach((s) => s.send()); }
document.addEventListener("visibilitychange", () => document.visibilityState === "hidden" && sendAll());
window.addEventListener("pagehide", sendAll);

function setState(state, error = "") {
  body.dataset.arState = state;
  body.dataset.arError = error;
  if (error) {
    document.querySelectorAll("[data-error-help]").forEach((el) => { el.hidden = el.dataset.errorHelp !== error; });
    sessions.forEach((s) => { s.error = error; });
    sendAll();
  }
}

// --- Videos -----------------------------------------------------------------------------------------
const unmuteButton = document.querySelector("[data-action=unmute]");
let playing = null; // the <video> currently shown, for the unmute button

function track(video, target) {
  video.addEventListener("playing", () => {
    sessionFor(target).startWatching();
    playing = video;
    unmuteButton.hidden = !video.muted;
    body.dataset.video = "playing";
  });
  video.addEventListener("pause", () => {
    sessionFor(target).stopWatching();
    body.dataset.video = "paused";
  });
}

export function makeVideo(target) {
  const video = document.createElement("video");
  video.src = target.videoUrl;
  video.crossOrigin = "anonymous";
  video.loop = true;
  video.muted = true;
  video.playsInline = true;
  video.setAttribute("playsinline", "");
  video.setAttribute("webkit-playsinline", "");
  // Not before the camera is being scanned: until then the runtime and the marker need the
  // bandwidth (serving() lets it buffer while the visitor aims at the photo).
  video.preload = "none";
  track(video, target);
  return video;
}

unmuteButton.addEventListener("click", () => {
  if (!playing) return;
  playing.muted = false;
  playing.play().catch(() => {});
  unmuteButton.hidden = true;
});

// --- Full-screen fallback: the first photo's video (on an album, the last one seen) -------------
const fallbackBox = document.querySelector("[data-fallback]");
const fallbackVideo = fallbackBox.querySelector("video");
let fallbackTarget = config.targets[0];
let fallbackTracked = false;
function playFallback() {
  if (playing && playing !== fallbackVideo) playing.pause();
  if (fallbackVideo.src !== new URL(fallbackTarget.videoUrl, window.location.href).href) {
    fallbackVideo.src = fallbackTarget.videoUrl;
    if (fallbackTarget.posterUrl) fallbackVideo.poster = fallbackTarget.posterUrl;
  }
  if (!fallbackTracked) {
    fallbackVideo.addEventListener("playing", () => { sessionFor(fallbackTarget).startWatching(); playing = fallbackVideo; });
    fallbackVideo.addEventListener("pause", () => sessionFor(fallbackTarget).stopWatching());
    fallbackTracked = true;
  }
  const session = sessionFor(fallbackTarget);
  if (!session.found) session.engine = "fallback";
  fallbackBox.hidden = false;
  fallbackVideo.play().catch(() => {});
}
document.querySelectorAll("[data-action=play-fallback]").forEach((b) => b.addEventListener("click", playFallback));
document.querySelector("[data-action=close-fallback]").addEventListener("click", () => {
  fallbackVideo.pause();
  fallbackBox.hidden = true;
});
document.querySelectorAll("[data-action=reload]").forEach((b) => b.addEventListener("click", () => window.location.reload()));

// --- In-app browsers (camera often blocked): suggest the system browser --------------------------
function waitForInAppChoice() {
  if (!IN_APP.test(navigator.userAgent)) return Promise.resolve();
  const panel = document.querySelector("[data-inapp]");
  panel.hidden = false;
  document.querySelector("[data-action=copy-link]").addEventListener("click", async (event) => {
    try { await navigator.clipboard.writeText(window.location.href); event.target.textContent = "✓"; } catch (e) { /* not allowed */ }
  });
  return new Promise((resolve) => {
    document.querySelector("[data-action=dismiss-inapp]").addEventListener("click", () => { panel.hidden = true; resolve(); });
  });
}

// --- Capability checks --------------------------------------------------------------------------
export function hasWebGL() {
  try {
    const canvas = document.createElement("canvas");
    return !!(window.WebGLRenderingContext && (canvas.getContext("webgl2") || canvas.getContext("webgl")));
  } catch (e) {
    return false;
  }
}

async function probeCamera() {
  // Asking once ourselves tells "denied" from "missing"; the runtimes' own requests only say "failed".
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return "unsupported";
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: false, video: { facingMode: "environment" } });
    stream.getTracks().forEach((t) => t.stop());
    return "";
  } catch (err) {
    if (err && (err.name === "NotFoundError" || err.name === "OverconstrainedError" || err.name === "DevicesNotFoundError")) return "no-camera";
    return "camera-denied";
  }
}

// --- The video plane: exactly the photo's rectangle, the video cropped to cover it --------------
// width × height is the photo in the engine's units (MindAR: 1 wide; AR.js NFT: millimetres).
export function coverPlane(THREE, video, target, width, height) {
  const photoAspect = target.targetHeight / target.targetWidth;
  const texture = new THREE.VideoTexture(video);
  texture.colorSpace = THREE.SRGBColorSpace;
  const fit = () => {
    const vw = video.videoWidth || target.videoWidth || 16;
    const vh = video.videoHeight || target.videoHeight || 9;
    const videoAspect = vh / vw;
    // Like CSS object-fit: cover — the centre of the video at its own aspect ratio, never stretched.
    if (videoAspect > photoAspect) {
      texture.repeat.set(1, photoAspect / videoAspect);
      texture.offset.set(0, (1 - texture.repeat.y) / 2);
    } else {
      texture.repeat.set(videoAspect / photoAspect, 1);
      texture.offset.set((1 - texture.repeat.x) / 2, 0);
    }
  };
  fit();
  video.addEventListener("loadedmetadata", fit);
  const geometry = new THREE.PlaneGeometry(width, height);
  return new THREE.Mesh(geometry, new THREE.MeshBasicMaterial({ map: texture, toneMapped: false }));
}

// --- The page's contract: what the serving engine reports (see contract.js) ------------------------
const tracked = new Map(); // target → its corners in camera-video pixels, while tracked
let lastCorners = null;
let cornersTimer = null;
const fps = new FpsMeter();
let fpsTimer = null;

function writeCorners() {
  if (lastCorners) body.dataset.arCorners = JSON.stringify(lastCorners);
}

// An engine reports the photo's corners ([[x, y] × 4], TL TR BR BL, camera-video pixels) as often
// as it has them, or null once it has lost the photo.
export function reportCorners(target, corners) {
  if (corners) {
    tracked.set(target, corners);
    lastCorners = corners;
    if (!cornersTimer) {
      writeCorners();
      cornersTimer = setInterval(writeCorners, CORNERS_EVERY_MS);
    }
    return;
  }
  tracked.delete(target);
  lastCorners = tracked.size ? [...tracked.values()].pop() : null;
  if (!lastCorners) {
    clearInterval(cornersTimer);
    cornersTimer = null;
    delete body.dataset.arCorners;
  }
}

// An engine reports each camera frame it has processed.
export function reportFrame() {
  fps.frame(performance.now());
  if (!fpsTimer) fpsTimer = setInterval(() => { body.dataset.arFps = String(fps.rate(performance.now())); }, 500);
}

let visible = 0;
let everFound = false;
let onFirstFound = () => {};

export function targetFound(target, video) {
  visible += 1;
  everFound = true;
  onFirstFound();
  fallbackTarget = target;
  const session = sessionFor(target);
  if (!session.found) {
    session.found = true;
    session.timeToFound = Math.round(performance.now() - startedAt);
    session.send();
  }
  setState("found");
  video.play().catch(() => { playing = video; unmuteButton.hidden = false; });
}

export function targetLost(target, video) {
  visible = Math.max(visible - 1, 0);
  video.pause();
  reportCorners(target, null);
  if (!visible) setState("lost");
}

// --- Engines and the fallback chain ------------------------------------------------------------
// Every engine the page can run: its module (a bare name the page's importmap resolves to a
// content-hashed file), whether this browser can run it at all, and the variants to try in order.
// A new engine is one entry here plus its name in the server's chain (viewer/views.py).
export const ENGINES = {
  // TensorFlow.js inside MindAR renders on WebGL 2 by default; where its shaders fail to link
  // (reported on iOS 27), the same runtime still works on WebGL 1. MindAR 1.2.5 cannot run on
  // TensorFlow.js's CPU backend: its input loader and tracker compile WebGL programs directly.
  mindar: { module: "arv-engine-mindar", supported: hasWebGL, variants: ["webgl2", "webgl1"] },
  // Our own tracker: no WebGL, a module worker on grey frames (docs/arv-engine.md).
  arv: { module: "arv-engine-arv", supported: hasModuleWorkers, variants: [""] },
  nft: {
    module: "arv-engine-nft",
    supported: () => hasWebGL() && typeof WebAssembly === "object" && typeof Worker === "function",
    variants: [""],
  },
};

// Module workers (Chrome 80, Safari 15, Firefox 114): a worker that imports one fails to load on
// older browsers, which then get MindAR straight away.
function hasModuleWorkers() {
  if (typeof Worker !== "function" || !navigator.mediaDevices) return false;
  let supported = false;
  // Browsers that know module workers read the option's "type"; the others ignore it. An empty
  // blob: script (allowed by the page's worker-src) is started and stopped at once.
  const url = URL.createObjectURL(new Blob([""], { type: "text/javascript" }));
  try {
    new Worker(url, { get type() { supported = true; return "module"; } }).terminate();
  } catch (e) { /* still told whether the option was read */ }
  URL.revokeObjectURL(url);
  return supported;
}

// A runtime that neither starts nor fails within this long is given up on (software WebGL on a
// slow phone takes 5–10 s).
const START_TIMEOUT_MS = 60000;

// A failure marked as a download problem: another variant of the same engine would fail the same.
export function loadError(message) {
  const err = new Error(message);
  err.loadFailure = true;
  return err;
}

// The attempt in progress: errors nobody caught (MindAR starts its runtime in an async function
// whose errors reach no caller) are its failure until the photo is found.
let current = null;
window.addEventListener("unhandledrejection", (event) => {
  if (current && !everFound) current.fail(event.reason instanceof Error ? event.reason : new Error(String(event.reason)));
});

const videos = new Map();
function videoFor(target) {
  if (!videos.has(target)) videos.set(target, makeVideo(target));
  return videos.get(target);
}

// One try of one engine variant. The engine's start(ctx) resolves once the camera is being
// scanned; it registers undo steps with ctx.onStop as it allocates (camera, canvases, loops) so a
// failed attempt leaves nothing behind. Resolves to {stopped} on failure or {failed} later.
async function startAttempt(module, { engine, variant }) {
  const undo = [];
  let fail;
  const failed = new Promise((resolve) => { fail = resolve; });
  const attempt = { fail: (err) => fail(err) };
  current = attempt;
  const container = document.getElementById("ar-container");
  const ctx = {
    variant,
    config,
    container,
    targets: config.targets,
    video: videoFor,
    found: (target) => targetFound(target, videoFor(target)),
    lost: (target) => targetLost(target, videoFor(target)),
    corners: reportCorners,
    frame: reportFrame,
    fail: attempt.fail,
    onStop: (step) => undo.push(step),
  };
  const stop = () => {
    undo.reverse().forEach((step) => { try { step(); } catch (e) { /* already gone */ } });
    container.replaceChildren();
    tracked.forEach((_, target) => reportCorners(target, null));
  };
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => resolve(new Error(`${engine} did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
  });
  const outcome = await Promise.race([
    module.start(ctx).then(() => null, (err) => err || new Error("start failed")),
    failed,
    timeout,
  ]);
  clearTimeout(timer);
  if (outcome) {
    stop();
    return { error: outcome };
  }
  return { failed, stop };
}

function describe(err) {
  return String((err && err.message) || err).slice(0, 200);
}

// Engines of the chain, each variant in turn; the first that starts serves the visit. A failure
// after the start (before the photo was found) moves on too. When all have failed: the video,
// full-screen — or, after a download failure, the "did not load" panel with a retry.
export async function run(chain = config.engines || [config.engine || "mindar"]) {
  await waitForInAppChoice();
  const plan = attemptPlan(chain, ENGINES);
  if (!plan.length) {
    useVideoOnly(0);
    setState("error", "unsupported");
    playFallback();
    return;
  }
  // The first engine's module (and, through it, its marker) starts loading while the camera is asked.
  const modules = {};
  const load = (name) => {
    if (!modules[name]) modules[name] = import(ENGINES[name].module);
    return modules[name];
  };
  load(plan[0].engine).catch(() => {}); // a failure is met again, and handled, below
  const cameraProblem = await probeCamera();
  if (cameraProblem) {
    setState("error", cameraProblem);
    if (cameraProblem === "unsupported") playFallback();
    return;
  }
  const failures = [];
  let skipEngine = "";
  for (const step of plan) {
    if (step.engine === skipEngine) continue;
    const label = step.variant ? `${step.engine}/${step.variant}` : step.engine;
    body.dataset.arEngine = step.engine;
    body.dataset.arVariant = step.variant;
    let module;
    try {
      module = await load(step.engine);
    } catch (err) {
      failures.push({ label, error: loadError(describe(err)) });
      skipEngine = step.engine;
      continue;
    }
    const started = await startAttempt(module, step);
    let error = started.error;
    if (!error) {
      serving(step, failures.length);
      if (body.dataset.arState === "loading") setState("scanning");
      // Served until the photo is found; a runtime that breaks before that hands over to the next.
      error = await Promise.race([started.failed, new Promise((resolve) => { onFirstFound = () => resolve(null); })]);
      if (!error) {
        current = null;
        return;
      }
      started.stop();
    }
    console.error(`AR engine ${label} failed`, error);
    failures.push({ label, error });
    body.dataset.arFailed = failures.map((f) => f.label).join(" ");
    if (error.loadFailure) skipEngine = step.engine;
  }
  current = null;
  useVideoOnly(failures.length);
  if (failures.some((f) => f.error.loadFailure)) {
    setState("error", "load-failed");
    return;
  }
  setState("error", "unsupported");
  playFallback();
}

function serving({ engine, variant }, fallbacks) {
  sessions.forEach((s) => { s.engine = engine; s.variant = variant; s.fallbacks = fallbacks; });
  videos.forEach((video) => { video.preload = "auto"; });
  pendingSession = { engine, variant, fallbacks };
  setTimeout(() => {
    if (!everFound) document.querySelectorAll("[data-show-after-timeout]").forEach((el) => { el.hidden = false; });
  }, config.notFoundAfterMs);
}

function useVideoOnly(fallbacks) {
  body.dataset.arEngine = "fallback";
  body.dataset.arVariant = "";
  delete body.dataset.arCorners;
  sessions.forEach((s) => { s.engine = "fallback"; s.variant = ""; s.fallbacks = fallbacks; });
  pendingSession = { engine: "fallback", variant: "", fallbacks };
}

run();
