// The MindAR engine: the photo's .mind marker, tracked by MindAR 1.2.5 on three.js. Its anchor
// space makes the photo 1 unit wide, centred on the anchor.
//
// MindAR runs its detector and tracker on TensorFlow.js, on WebGL 2 unless told otherwise.
// Variant "webgl1" switches TensorFlow.js to WebGL 1 before MindAR makes its first tensor: on a
// device whose WebGL 2 shaders fail to link ("Failed to link vertex and fragment shaders", iOS 27)
// the same runtime then works. TensorFlow.js keeps one engine per page in `window._tfengine`
// (that is how several copies of it share one); a `?tfjsflags=WEBGL_VERSION:1` in the page URL
// does the same for the first start, but only a reload would apply it afterwards.
import { config, coverPlane, loadError } from "arv-viewer";
import { projectToPixels, unitPhotoCorners } from "arv-viewer-contract";

// The marker's bytes, fetched as soon as this module runs — the page's <link rel=preload> has
// already started the download while the HTML was parsed — and handed to MindAR as a blob: URL,
// so MindAR never waits for it after its own 2 MB runtime has loaded, and a second attempt does
// not download it again.
let markerBlobUrl = null;
const marker = fetch(config.markerUrl).then(async (response) => {
  if (!response.ok) throw loadError(`the marker did not load (${response.status})`);
  markerBlobUrl = URL.createObjectURL(new Blob([await response.arrayBuffer()]));
  return markerBlobUrl;
});
marker.catch(() => {}); // awaited by start(); not an unhandled rejection meanwhile

function useWebGLVersion(version) {
  const tf = window._tfengine;
  if (!tf || tf.ENV.getNumber("WEBGL_VERSION") === version) return;
  // The WebGL backend already made is bound to its context: drop it (keeping its factory), clear
  // every flag derived from the old context, and let the next tensor make a new one.
  const webgl = tf.registryFactory.webgl;
  if (!webgl) return;
  tf.removeBackend("webgl");
  tf.ENV.reset();
  tf.ENV.set("WEBGL_VERSION", version);
  tf.registerBackend("webgl", webgl.factory, webgl.priority);
}

export async function start(ctx) {
  const [markerUrl, THREE, { MindARThree }] = await Promise.all([marker, import("three"), import("mindar-image-three")]);
  useWebGLVersion(ctx.variant === "webgl1" ? 1 : 2);

  const mindar = new MindARThree({
    container: ctx.container,
    imageTargetSrc: markerUrl,
    uiLoading: "no",
    uiScanning: "no",
    uiError: "no",
    filterMinCF: 0.0001,
    filterBeta: 0.001,
  });
  ctx.onStop(() => {
    mindar.renderer.setAnimationLoop(null);
    if (mindar.controller) {
      mindar.controller.stopProcessVideo();
      mindar.controller.worker.terminate();
    }
    if (mindar.video && mindar.video.srcObject) mindar.video.srcObject.getTracks().forEach((t) => t.stop());
    mindar.renderer.dispose();
  });

  const anchors = config.targets.map((target, position) => {
    const aspect = target.targetHeight / target.targetWidth;
    const video = ctx.video(target);
    const anchor = mindar.addAnchor(target.index ?? position);
    anchor.group.add(coverPlane(THREE, video, target, 1, aspect));
    anchor.onTargetFound = () => ctx.found(target);
    anchor.onTargetLost = () => ctx.lost(target);
    return { anchor, target, corners: unitPhotoCorners(aspect) };
  });

  await mindar.start();

  // Every processed camera frame ends with a "processDone" update.
  const controller = mindar.controller;
  const onUpdate = controller.onUpdate;
  controller.onUpdate = (data) => {
    if (data.type === "processDone") ctx.frame();
    onUpdate(data);
  };
  // The controller's projection is the camera video's own (inputWidth × inputHeight), unlike the
  // three.js camera, which MindAR fits to the screen around a cropped video.
  const projection = controller.getProjectionMatrix();
  const { inputWidth, inputHeight } = controller;
  mindar.renderer.setAnimationLoop(() => {
    mindar.renderer.render(mindar.scene, mindar.camera);
    for (const { anchor, target, corners } of anchors) {
      if (anchor.visible) {
        ctx.corners(target, projectToPixels(corners, anchor.group.matrix.elements, projection, inputWidth, inputHeight));
      }
    }
  });
}
