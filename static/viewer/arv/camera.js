// Which camera to film the print with, on phones that have several back lenses.
//
// Browsers open "a back camera" for facingMode "environment", and on many multi-lens Android
// phones that is the ultra-wide or a telephoto: the print looks small, distorted or out of
// focus (a recurring MindAR complaint). Labels and capabilities are only visible once camera
// permission is granted, so the engine opens a first camera, lists the devices, and switches if
// this ranking prefers another one. Scores:
//
//   +10  a back camera: capabilities facingMode "environment", or a label saying back/rear
//        (Android: "camera2 0, facing back"; iOS: "Back Camera"; some localised words)
//   -20  a front camera (facingMode "user" or a label saying front/user/selfie)
//   -12  a special lens: ultra-wide, telephoto, zoom, macro, depth, infrared/ToF
//    -3  a virtual multi-lens device (iOS "Back Dual Wide Camera", "Back Triple Camera"), which
//        switches lenses by itself when the print is close: the picture jumps
//    +3  the conventional main camera: iOS "Back Camera", Android "camera2 0" / "camera 0"
//    +2  has a torch (flash): on phones the flash sits next to the main lens, ultra-wide and
//        tele modules usually report no torch
// Ties keep the enumeration order (Android lists its main back camera first). Devices without
// labels (permission not granted yet) give no information: the current camera is kept.

const BACK = /\b(back|rear|environment|world)\b|задн|тыл|rück|arrière|trasera|posteriore|traseira/i;
const FRONT = /\b(front|user|selfie|facetime)\b|фронт|передн/i;
const SPECIAL = /ultra|tele|zoom|macro|depth|infrared|\bir\b|\btof\b|широк|телефото|макро/i;
const VIRTUAL = /\b(dual|triple)\b|\bdual wide\b/i;
const MAIN = /^back camera$|\bcamera2 0\b|\bcamera 0\b/i;

// devices: [{deviceId, label, facingMode: string[] | undefined, torch: boolean | undefined}]
// Returns the deviceId to use, or null when the list says nothing useful.
export function chooseCamera(devices) {
  let best = null;
  let bestScore = -Infinity;
  let labelled = false;
  for (const device of devices) {
    const label = (device.label || "").trim();
    const facing = device.facingMode || [];
    if (label || facing.length) labelled = true;
    let score = 0;
    if (facing.includes("environment") || BACK.test(label)) score += 10;
    if (facing.includes("user") || (FRONT.test(label) && !BACK.test(label))) score -= 20;
    if (SPECIAL.test(label)) score -= 12;
    else if (VIRTUAL.test(label)) score -= 3;
    if (MAIN.test(label)) score += 3;
    if (device.torch) score += 2;
    if (score > bestScore) {
      bestScore = score;
      best = device.deviceId;
    }
  }
  return labelled ? best : null;
}

// The same list from the browser: video inputs with their labels and, where the browser offers
// InputDeviceInfo.getCapabilities() (Chromium), facing mode and torch.
export async function listCameras(mediaDevices) {
  const devices = await mediaDevices.enumerateDevices();
  return devices
    .filter((d) => d.kind === "videoinput")
    .map((d) => {
      let caps = {};
      try {
        caps = (typeof d.getCapabilities === "function" && d.getCapabilities()) || {};
      } catch (e) {
        caps = {};
      }
      return { deviceId: d.deviceId, label: d.label, facingMode: caps.facingMode, torch: caps.torch };
    });
}
