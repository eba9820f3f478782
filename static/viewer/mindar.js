// The MindAR engine (the default): the photo's .mind marker, tracked by MindAR 1.2.5 on three.js.
// Its anchor space makes the photo 1 unit wide, centred on the anchor.
import { config, coverPlane, makeVideo, run, targetFound, targetLost } from "arv-viewer";

run(async () => {
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
  config.targets.forEach((target, position) => {
    const video = makeVideo(target);
    const anchor = mindar.addAnchor(target.index ?? position);
    anchor.group.add(coverPlane(THREE, video, target, 1, target.targetHeight / target.targetWidth));
    anchor.onTargetFound = () => targetFound(target, video);
    anchor.onTargetLost = () => targetLost(target, video);
  });
  await mindar.start();
  mindar.renderer.setAnimationLoop(() => mindar.renderer.render(mindar.scene, mindar.camera));
});
