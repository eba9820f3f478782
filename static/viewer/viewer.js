// The AR viewer: find the printed photo with MindAR and play the video on it.
//
// The page's state lives in <body data-ar-state>: loading → scanning ⇄ found/lost, or error
// (with data-ar-error naming the cause). CSS shows the matching panel; tests poll the attribute.
// Every failure has a way out: the video can always be played full-screen.

const config = JSON.parse(document.getElementById("ar-config").textContent);
const body = document.body;
const sessionId = (crypto.randomUUID && crypto.randomUUID()) || fallbackUuid();
const startedAt = performance.now();
const stats = { found: false, time_to_found_ms: null, video_played: false, watch_seconds: 0, engine: "mindar", error: "" };
let watchStartedAt = null;

function fallbackUuid() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function setState(state, error = "") {
  body.dataset.arState = state;
  body.dataset.arError = error;
  if (error) {
    stats.error = error;
    document.querySelectorAll("[data-error-help]").forEach((el) => {
      el.hidden = el.dataset.errorHelp !== error;
    });
    sendBeacon();
  }
}

// --- Analytics beacon: running totals, so any single post that arrives is enough ---------------
function currentWatchSeconds() {
  const running = watchStartedAt === null ? 0 : (performance.now() - watchStartedAt) / 1000;
  return Math.round(stats.watch_seconds + running);
}

function sendBeacon() {
  const payload = JSON.stringify({
    session: sessionId,
    duration_seconds: Math.round((performance.now() - startedAt) / 1000),
    found: stats.found,
    time_to_found_ms: stats.time_to_found_ms,
    video_played: stats.video_played,
    watch_seconds: currentWatchSeconds(),
    engine: stats.engine,
    error: stats.error,
  });
  const blob = new Blob([payload], { type: "application/json" });
  if (!(navigator.sendBeacon && navigator.sendBeacon(config.beaconUrl, blob))) {
    fetch(config.beaconUrl, { method: "POST", body: payload, headers: { "Content-Type": "application/json" }, keepalive: true, credentials: "omit" }).catch(() => {});
  }
}
document.addEventListener("visibilitychange", () => document.visibilityState === "hidden" && sendBeacon());
window.addEventListener("pagehide", sendBeacon);

// --- The video element shared by the AR plane and the full-screen fallback ----------------------
function makeVideo() {
  const video = document.createElement("video");
  video.src = config.videoUrl;
  video.crossOrigin = "anonymous";
  video.loop = true;
  video.muted = true;
  video.playsInline = true;
  video.setAttribute("playsinline", "");
  video.setAttribute("webkit-playsinline", "");
  video.preload = "auto";
  video.addEventListener("playing", () => {
    stats.video_played = true;
    if (watchStartedAt === null) watchStartedAt = performance.now();
    unmuteButton.hidden = !video.muted;
  });
  video.addEventListener("pause", () => {
    if (watchStartedAt !== null) {
      stats.watch_seconds += (performance.now() - watchStartedAt) / 1000;
      watchStartedAt = null;
    }
  });
  return video;
}

const unmuteButton = document.querySelector("[data-action=unmute]");
let arVideo = null;
unmuteButton.addEventListener("click", () => {
  const video = arVideo || fallbackVideo;
  video.muted = false;
  video.play().catch(() => {});
  unmuteButton.hidden = true;
});

// --- Full-screen fallback -----------------------------------------------------------------------
const fallbackBox = document.querySelector("[data-fallback]");
const fallbackVideo = fallbackBox.querySelector("video");
function playFallback() {
  if (arVideo) arVideo.pause();
  if (!fallbackVideo.src) {
    fallbackVideo.src = config.videoUrl;
    fallbackVideo.addEventListener("playing", () => { stats.video_played = true; if (watchStartedAt === null) watchStartedAt = performance.now(); });
    fallbackVideo.addEventListener("pause", () => {
      if (watchStartedAt !== null) { stats.watch_seconds += (performance.now() - watchStartedAt) / 1000; watchStartedAt = null; }
    });
  }
  fallbackBox.hidden = false;
  if (stats.engine === "mindar" && !stats.found) stats.engine = "fallback";
  fallbackVideo.play().catch(() => {});
}
document.querySelectorAll("[data-action=play-fallback]").forEach((b) => b.addEventListener("click", playFallback));
document.querySelector("[data-action=close-fallback]").addEventListener("click", () => {
  fallbackVideo.pause();
  fallbackBox.hidden = true;
});
document.querySelectorAll("[data-action=reload]").forEach((b) => b.addEventListener("click", () => window.location.reload()));

// --- In-app browsers (camera often blocked): suggest the system browser --------------------------
const IN_APP = /(Telegram|WhatsApp|Instagram|FBAN|FBAV|FB_IAB|VKClient|vkontakte|Line\/|MicroMessenger)/i;
const inAppPanel = document.querySelector("[data-inapp]");
function waitForInAppChoice() {
  if (!IN_APP.test(navigator.userAgent)) return Promise.resolve();
  inAppPanel.hidden = false;
  document.querySelector("[data-action=copy-link]").addEventListener("click", async (event) => {
    try { await navigator.clipboard.writeText(window.location.href); event.target.textContent = "✓"; } catch (e) { /* ignore */ }
  });
  return new Promise((resolve) => {
    document.querySelector("[data-action=dismiss-inapp]").addEventListener("click", () => { inAppPanel.hidden = true; resolve(); });
  });
}

// --- Capability checks --------------------------------------------------------------------------
function hasWebGL() {
  try {
    const canvas = document.createElement("canvas");
    return !!(window.WebGLRenderingContext && (canvas.getContext("webgl2") || canvas.getContext("webgl")));
  } catch (e) {
    return false;
  }
}

async function probeCamera() {
  // Asking once ourselves tells denied from missing; MindAR's own request only says "failed".
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return "unsupported";
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: false, video: { facingMode: "environment" } });
    stream.getTracks().forEach((t) => t.stop());
    return "";
  } catch (err) {
    if (err && (err.name === "NotAllowedError" || err.name === "SecurityError")) return "camera-denied";
    if (err && (err.name === "NotFoundError" || err.name === "OverconstrainedError")) return "no-camera";
    return "camera-denied";
  }
}

// --- The video plane: exactly the photo's rectangle, the video cropped to cover it --------------
function coverPlane(THREE, video) {
  const photoAspect = config.targetHeight / config.targetWidth; // anchor space: width 1
  const geometry = new THREE.PlaneGeometry(1, photoAspect);
  const texture = new THREE.VideoTexture(video);
  texture.colorSpace = THREE.SRGBColorSpace;
  const fit = () => {
    const vw = video.videoWidth || config.videoWidth || 16;
    const vh = video.videoHeight || config.videoHeight || 9;
    const videoAspect = vh / vw;
    // Like CSS object-fit: cover — show the centre of the video at its own aspect ratio.
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
  return new THREE.Mesh(geometry, new THREE.MeshBasicMaterial({ map: texture, toneMapped: false }));
}

async function startAR() {
  const THREE = await import("three");
  const { MindARThree } = await import("mindar-image-three");
  const mindar = new MindARThree({
    container: document.getElementById("ar-container"),
    imageTargetSrc: config.markerUrl,
    uiLoading: "no",
    uiScanning: "no",
    uiError: "no",
    filterMinCF: 0.0001,
    filterBeta: 0.001,
  });
  arVideo = makeVideo();
  const anchor = mindar.addAnchor(0);
  anchor.group.add(coverPlane(THREE, arVideo));
  anchor.onTargetFound = () => {
    if (!stats.found) {
      stats.found = true;
      stats.time_to_found_ms = Math.round(performance.now() - startedAt);
      sendBeacon();
    }
    setState("found");
    arVideo.play().catch(() => { unmuteButton.hidden = false; });
  };
  anchor.onTargetLost = () => {
    setState("lost");
    arVideo.pause();
  };
  await mindar.start();
  mindar.renderer.setAnimationLoop(() => mindar.renderer.render(mindar.scene, mindar.camera));
  setState("scanning");
  setTimeout(() => {
    if (!stats.found) document.querySelectorAll("[data-show-after-timeout]").forEach((el) => { el.hidden = false; });
  }, config.notFoundAfterMs);
}

async function main() {
  await waitForInAppChoice();
  if (!hasWebGL()) {
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
    await startAR();
  } catch (err) {
    console.error("AR start failed", err);
    setState("error", "load-failed");
  }
}

main();
