// The AR.js NFT engine: the photo's .iset/.fset/.fset3 marker, tracked by AR.js 3.4.8's three.js
// build (ar-threex.mjs, which imports the page's three.js; no A-Frame).
//
// AR.js's NFT tracking runs in a Web Worker it starts when it sees the window event
// "arjs-video-loaded". It draws the camera into a 320×240 frame (the video letterboxed to 4:3),
// and reports a pose per frame. Its pose is in the marker's frame: millimetres at the marker's
// DPI, origin at the photo's bottom-left corner, and (after AR.js's axis change) y out of the
// photo, x to the right, -z up the photo. We open the camera ourselves instead of using
// ArToolkitSource, so that the video's size, the overlay and the lost state are ours to control.
import { config, coverPlane, loadError } from "arv-viewer";
import { projectToPixels, unletterbox } from "arv-viewer-contract";

const LOAD_TIMEOUT_MS = 45000; // marker download and the worker building its feature index
const LOST_AFTER_MS = 500; // single frames without the photo are tracking noise, not "lost"
// ARToolKit's projection clips at 1 m, but NFT distances are in "marker millimetres": a big photo
// at 72 dpi is metres wide, so it is seen from metres away.
const NEAR_MM = 1;
const FAR_MM = 1e6;

// AR.js's worker fetches `self.origin + "/" + url` unless the URL passes its own http(s) regex,
// which wants a dotted domain name (so not localhost or an IP address): same-origin URLs are
// therefore given as paths without their leading slash.
function forWorker(url) {
  const absolute = new URL(url, window.location.href);
  if (absolute.origin !== window.location.origin) return absolute.href;
  return absolute.pathname.replace(/^\/+/, "") + absolute.search;
}

const delay = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

async function openCamera(container) {
  // 640×480 is what AR.js is calibrated for (camera_para.dat) and at least what it processes.
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: false,
    video: { facingMode: "environment", width: { ideal: 640 }, height: { ideal: 480 } },
  });
  const video = document.createElement("video");
  video.muted = true;
  video.playsInline = true;
  video.setAttribute("playsinline", "");
  video.srcObject = stream;
  await new Promise((resolve, reject) => {
    video.addEventListener("loadedmetadata", resolve, { once: true });
    video.addEventListener("error", reject, { once: true });
  });
  await video.play();
  // AR.js sizes its processing frame from the element's layout size (clientWidth/Height) and
  // crops the camera with it, so the layout size is the camera's own; a transform scales it up.
  Object.assign(video.style, {
    position: "absolute", left: "0", top: "0", transformOrigin: "0 0",
    width: `${video.videoWidth}px`, height: `${video.videoHeight}px`,
  });
  container.appendChild(video);
  return video;
}

// AR.js 3.4.8's processing frame for this video (arjs-markercontrols.js, handleNFT): the video
// scaled to fit 320 px on its 4:3 side, centred in a 4:3 frame of black bars.
function processingFrame(video) {
  const vw = video.clientWidth;
  const vh = video.clientHeight;
  const scale = 320 / Math.max(vw, (vh / 3) * 4);
  const w = vw * scale;
  const h = vh * scale;
  const pw = Math.max(w, (h / 3) * 4);
  const ph = Math.max(h, (w / 4) * 3);
  return { vw, vh, w, h, pw, ph, ox: (pw - w) / 2, oy: (ph - h) / 2 };
}

function whenNftLoaded() {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the NFT marker did not load")), LOAD_TIMEOUT_MS);
    window.addEventListener("arjs-nft-loaded", () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}

// The three marker files, fetched while the camera and the runtime start: a missing file fails the
// page at once instead of after LOAD_TIMEOUT_MS, and AR.js's worker then gets them from the HTTP
// cache (the route serves them as immutable).
function prefetchMarker() {
  const files = ["iset", "fset", "fset3"].map(async (ext) => {
    const response = await fetch(`${config.nft.baseUrl}.${ext}`);
    if (!response.ok) throw loadError(`the NFT marker's .${ext} did not load (${response.status})`);
    await response.arrayBuffer();
  });
  const all = Promise.all(files);
  all.catch(() => {}); // awaited later; not an unhandled rejection if the camera fails first
  return all;
}

// Fetched while the camera and the runtime start (this module is imported by the chain).
const marker = prefetchMarker();

export async function start(ctx) {
  const [THREE, arjs] = await Promise.all([import("three"), import("arjs-threex")]);
  const video = await openCamera(ctx.container);
  ctx.onStop(() => video.srcObject.getTracks().forEach((track) => track.stop()));
  await startTracking(THREE, arjs, ctx, video, marker);
}

// Each message from AR.js's tracking worker answers one processed camera frame.
function countingWorkers(onMessage) {
  const Original = window.Worker;
  window.Worker = class extends Original {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", onMessage);
    }
  };
  return () => { window.Worker = Original; };
}

async function startTracking(THREE, { ArToolkitContext, ArMarkerControls }, ctx, video, marker) {
  const { container } = ctx;
  const target = config.targets[0];
  const { widthMm, heightMm } = config.nft;
  const frame = processingFrame(video);

  // The main-thread context only provides the camera calibration, the projection and the
  // canvas AR.js draws frames into; tracking itself happens in AR.js's worker.
  const context = new ArToolkitContext({
    cameraParametersUrl: config.nft.cameraUrl,
    detectionMode: "mono",
    canvasWidth: frame.pw,
    canvasHeight: frame.ph,
  });
  await new Promise((resolve) => { context.init(resolve); });
  // The worker reads the calibration from this URL again, with its own URL rule.
  context.arController.cameraParam = forWorker(config.nft.cameraUrl);

  const renderer = new THREE.WebGLRenderer({ alpha: true, antialias: true });
  renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
  renderer.setClearColor(0x000000, 0);
  Object.assign(renderer.domElement.style, { position: "absolute", left: "0", top: "0" });
  container.appendChild(renderer.domElement);
  ctx.onStop(() => renderer.setAnimationLoop(null));

  const scene = new THREE.Scene();
  const camera = new THREE.Camera();
  camera.projectionMatrix.copy(context.getProjectionMatrix());
  const e = camera.projectionMatrix.elements;
  e[10] = -(FAR_MM + NEAR_MM) / (FAR_MM - NEAR_MM);
  e[14] = (-2 * FAR_MM * NEAR_MM) / (FAR_MM - NEAR_MM);
  camera.projectionMatrixInverse.copy(camera.projectionMatrix).invert();
  scene.add(camera);

  // The photo lies in the marker's x/-z plane, from its bottom-left corner.
  const root = new THREE.Group();
  scene.add(root);
  const videoElement = ctx.video(target);
  const plane = coverPlane(THREE, videoElement, target, widthMm, heightMm);
  plane.rotation.x = -Math.PI / 2;
  plane.position.set(widthMm / 2, 0, -heightMm / 2);
  root.add(plane);

  const restoreWorker = countingWorkers(() => ctx.frame());
  ctx.onStop(restoreWorker);
  const controls = new ArMarkerControls(context, root, {
    type: "nft",
    descriptorsUrl: forWorker(config.nft.baseUrl),
    changeMatrixMode: "modelViewMatrix",
    smooth: true,
    smoothCount: 5,
  });
  window.addEventListener("arjs-nft-init-data", (event) => {
    // What the runtime read from our files, for support and tests: "1000x667@72".
    const { width, height, dpi } = event.detail;
    document.body.dataset.nftMarker = `${width}x${height}@${dpi}`;
  }, { once: true });

  let seenAt = -Infinity;
  let shown = false;
  controls.addEventListener("markerFound", () => {
    seenAt = performance.now();
    if (!shown) {
      shown = true;
      ctx.found(target);
    }
  });

  // The video fills the screen like object-fit: cover; the 3D layer covers AR.js's whole 4:3
  // processing frame around it, because that is the frame the projection describes.
  function layout() {
    const width = container.clientWidth || window.innerWidth;
    const height = container.clientHeight || window.innerHeight;
    const scale = Math.max(width / frame.vw, height / frame.vh);
    const dx = (width - frame.vw * scale) / 2;
    const dy = (height - frame.vh * scale) / 2;
    video.style.transform = `translate(${dx}px, ${dy}px) scale(${scale})`;
    const k = (frame.vw * scale) / frame.w; // processing pixels → CSS pixels
    renderer.setSize(frame.pw * k, frame.ph * k);
    renderer.domElement.style.left = `${dx - frame.ox * k}px`;
    renderer.domElement.style.top = `${dy - frame.oy * k}px`;
  }
  layout();
  window.addEventListener("resize", layout);

  renderer.setAnimationLoop(() => {
    if (shown && performance.now() - seenAt > LOST_AFTER_MS) {
      shown = false;
      ctx.lost(target);
    }
    root.visible = shown;
    renderer.render(scene, camera);
    if (shown) ctx.corners(target, cornersInVideo());
  });

  // The photo's corners (TL, TR, BR, BL: it lies from its bottom-left corner along x and -z)
  // through the pose and AR.js's projection of its processing frame, then out of that frame's
  // letterbox into the camera video's own pixels.
  const photo = [[0, 0, -heightMm], [widthMm, 0, -heightMm], [widthMm, 0, 0], [0, 0, 0]];
  const toVideo = { scale: frame.w / frame.vw, offsetX: frame.ox, offsetY: frame.oy };
  function cornersInVideo() {
    const inFrame = projectToPixels(photo, root.matrix.elements, camera.projectionMatrix.elements, frame.pw, frame.ph);
    return unletterbox(inFrame, toVideo);
  }

  await marker;
  const loaded = whenNftLoaded();
  // The marker controls attach their "arjs-video-loaded" listener on a 20 ms timer once the
  // context is ready; an event sent before that would be missed and tracking would never start.
  await delay(100);
  window.dispatchEvent(new CustomEvent("arjs-video-loaded", { detail: { component: video } }));
  await loaded;
  restoreWorker(); // AR.js's tracking worker exists by now
}
