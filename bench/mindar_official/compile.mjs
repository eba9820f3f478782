// Compile images with the official MindAR 1.2.5 OfflineCompiler, exactly as its Node entry point
// does: node-canvas decodes (no EXIF rotation), tfjs runs its CPU backend with mind-ar's JS kernels.
// Usage: node compile.mjs OUT.mind IMAGE [IMAGE ...]
import { writeFileSync } from "node:fs";
import * as tf from "@tensorflow/tfjs";
import { loadImage } from "canvas";
import { OfflineCompiler } from "mind-ar/src/image-target/offline-compiler.js";

const [out, ...paths] = process.argv.slice(2);
if (!out || paths.length === 0) {
  console.error("usage: node compile.mjs OUT.mind IMAGE [IMAGE ...]");
  process.exit(2);
}
await tf.setBackend("cpu");
const images = [];
for (const path of paths) images.push(await loadImage(path));
const compiler = new OfflineCompiler();
await compiler.compileImageTargets(images, () => {});
writeFileSync(out, compiler.exportData());
console.error(`backend=${tf.getBackend()} targets=${images.length}`);
