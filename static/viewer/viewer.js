// The AR viewer's shared part: find a printed photo and play its video on it, whatever the engine.
//
// The page's state lives in <body data-ar-state>: loading → scanning ⇄ found/lost, or error
// (with data-ar-error naming the cause). CSS shows the matching panel; tests poll the attribute.
// Every failure has a way out: the video can always be played full-screen.
//
// config.targets lists the photos of the marker: one on a photo's page, several on an album page.
// Each found photo gets its own analytics session, posted to its own beacon.
//
// An engine module (mindar.js, nft.js) only starts its runtime: it calls run() with a function
// that puts each target's video plane (coverPlane) on the runtime's anchor, reports
// targetFound/targetLost, and resolves once the camera is being scanned. Everything else (checks,
// panels, fallback, sound, analytics) is here, so both engines behave the same.

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
    this.engine = config.engine || "mindar";
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
  video.preload = "auto";
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

// --- What the engines report ----------------------------------------------------------------------
let visible = 0;
let everFound = false;

export function targetFound(target, video) {
  visible += 1;
  everFound = true;
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
  if (!visible) setState("lost");
}

// startEngine() starts the runtime and resolves once the camera is being scanned; supported()
// tells whether this browser can run it at all (else the video plays full-screen).
export async function run(startEngine, { supported = hasWebGL } = {}) {
  await waitForInAppChoice();
  if (!supported()) {
    setState("error", "unsupported");
    playFallback();
    return;
  }
  const cameraProblem = await probeCamera();
  if (cameraProblem) {
    setState("error", cameraProblem);
    if (cameraProblem === "unsupported") playFallback();
    return;
  }
  try {
    await startEngine();
  } catch (err) {
    console.error("AR start failed", err);
    setState("error", "load-failed");
    return;
  }
  // A photo found while the runtime was still starting keeps its "found".
  if (body.dataset.arState === "loading") setState("scanning");
  setTimeout(() => {
    if (!everFound) document.querySelectorAll("[data-show-after-timeout]").forEach((el) => { el.hidden = false; });
  }, config.notFoundAfterMs);
}
