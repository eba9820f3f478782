// The arv engine: our own tracker (static/viewer/arv/, docs/arv-engine.md) on the photo's compact
// marker (.arvm). No TensorFlow.js, no WebGL, no three.js: detection and tracking run in a module
// worker on grey frames, and the photo's <video> is laid on the print with a CSS matrix3d.
//
// Failures map onto the viewer's chain (viewer.js): a marker that does not download or does not
// parse is a load failure (this engine is skipped), anything else is a failed attempt; either way
// MindAR is tried next with the .mind, then the video full-screen.
import { loadError } from "arv-viewer";
import { startArvEngine } from "arv-tracker";

export async function start(ctx) {
  const targets = ctx.targets.map((target, position) => ({ index: target.index ?? position, element: ctx.video(target) }));
  // The worker's content-hashed URL (viewer/views.py), so a new release never runs an old worker.
  const worker = ctx.config.arvWorkerUrl ? { workerUrl: new URL(ctx.config.arvWorkerUrl, window.location.href) } : {};
  let engine;
  try {
    engine = await startArvEngine({
      ...worker,
      markerUrl: ctx.config.compactMarkerUrl,
      container: ctx.container,
      targets,
      onFound: (i, corners) => {
        ctx.corners(ctx.targets[i], corners);
        ctx.found(ctx.targets[i]);
      },
      onCorners: (i, corners) => ctx.corners(ctx.targets[i], corners),
      onLost: (i) => ctx.lost(ctx.targets[i]),
      onFrame: () => ctx.frame(),
      onError: (err) => ctx.fail(err),
    });
  } catch (err) {
    if (err && err.code === "load-failed") throw loadError(err.message);
    throw err;
  }
  ctx.onStop(() => engine.stop());
  // For the benchmark and the memory run (bench/): the tracker's own counters.
  window.__arvEngine = engine;
}
