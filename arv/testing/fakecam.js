// A fake camera that behaves the same in Blink, Gecko and WebKit (test-only; never served by ARV).
//
// Injected by the test proxy (arv/testing/drivers.py) as the first script of every HTML page, it
// replaces getUserMedia with the captureStream() of a canvas onto which a clip's frames
// (arv/testing/clips.py) are drawn at their timestamps, in a loop. It is installed on
// MediaDevices.prototype: an own property of navigator.mediaDevices vanished after ~0.5 s in WebKit.
//
// Configured by its <script> element's data attributes:
//   data-clip     the folder URL holding clip.json and the frames
//   data-camera   "grant" (default), "deny" (NotAllowedError) or "none" (NotFoundError)
//   data-user-agent  a navigator.userAgent to report instead of the browser's
//
// What it exposes, for the tests: window.__arvFakeCamera = {frame, loops, shown} — the index of
// the frame on the canvas now, how many times the clip has looped, and whether the page has asked
// for the camera; window.__arvConsole — console errors and warnings, uncaught errors and
// Content-Security-Policy violations, as strings (WebKitWebDriver has no console log to read).
(() => {
  const script = document.currentScript;
  const options = script ? script.dataset : {};
  const state = { frame: -1, loops: 0, shown: false, requests: 0 };
  window.__arvFakeCamera = state;

  const logged = [];
  window.__arvConsole = logged;
  const remember = (kind, args) => logged.push(`${kind}: ${args.map((a) => (a && a.message) || String(a)).join(" ")}`.slice(0, 500));
  for (const kind of ["error", "warn"]) {
    const original = console[kind].bind(console);
    console[kind] = (...args) => { remember(kind, args); original(...args); };
  }
  window.addEventListener("error", (e) => remember("uncaught", [e.message || (e.target && e.target.src) || "error"]), true);
  window.addEventListener("unhandledrejection", (e) => remember("unhandled", [e.reason]));
  document.addEventListener("securitypolicyviolation", (e) => remember("csp", [`${e.violatedDirective} ${e.blockedURI}`]));

  if (options.userAgent) {
    Object.defineProperty(Navigator.prototype, "userAgent", { get: () => options.userAgent, configurable: true });
  }

  const clipUrl = options.clip ? new URL(options.clip, location.href).href : "";
  let ready = null;
  function load() {
    if (ready) return ready;
    ready = (async () => {
      const manifest = await (await fetch(new URL("clip.json", clipUrl))).json();
      const images = await Promise.all(manifest.frames.map((f) => new Promise((resolve, reject) => {
        const img = new Image();
        img.onload = () => resolve(img);
        img.onerror = () => reject(new Error(`fake camera: frame ${f.file} did not load`));
        img.src = new URL(f.file, clipUrl).href;
      })));
      const [width, height] = manifest.size;
      const canvas = document.createElement("canvas");
      canvas.width = width;
      canvas.height = height;
      const ctx = canvas.getContext("2d");
      const period = manifest.frames.length / manifest.fps;
      const started = performance.now();
      const draw = () => {
        const elapsed = (performance.now() - started) / 1000;
        const index = Math.floor(elapsed * manifest.fps) % manifest.frames.length;
        // Redrawn every tick even when unchanged: a canvas stream only yields frames it was painted.
        ctx.drawImage(images[index], 0, 0, width, height);
        state.frame = index;
        state.loops = Math.floor(elapsed / period);
      };
      draw();
      // Timers, not requestAnimationFrame, which a hidden or headless page may stop calling.
      setInterval(draw, 1000 / (2 * manifest.fps));
      return { canvas, fps: manifest.fps };
    })();
    return ready;
  }

  function failure(name, message) {
    return new DOMException(message, name);
  }

  MediaDevices.prototype.getUserMedia = async function getUserMedia(constraints) {
    state.requests += 1;
    const mode = options.camera || "grant";
    if (mode === "deny") throw failure("NotAllowedError", "Permission denied (fake camera)");
    if (mode === "none" || !constraints || !constraints.video) throw failure("NotFoundError", "Requested device not found (fake camera)");
    const { canvas, fps } = await load();
    state.shown = true;
    return canvas.captureStream(fps);
  };
  MediaDevices.prototype.enumerateDevices = async function enumerateDevices() {
    if ((options.camera || "grant") === "none") return [];
    return [{ deviceId: "fake", groupId: "fake", kind: "videoinput", label: "ARV fake camera", toJSON() { return this; } }];
  };
  if (clipUrl && (options.camera || "grant") === "grant") load().catch((e) => remember("fakecam", [e]));
})();
