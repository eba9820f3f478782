"""Camera clips with a known truth: a printed photo filmed on a table, rendered frame by frame.

Each frame is the photo, printed with a white border, put on a table background by a homography
computed from a *pose* (where the print is, how it is turned and tilted), with light, blur and
noise on top; the photo's four corners in that frame (top-left, top-right, bottom-right,
bottom-left, in the frame's pixels) are written next to the frames. A viewer engine's reported
corners (``data-ar-corners``) can then be compared with where the photo really is.

A clip is described by a :class:`ClipSpec`: a name, its length and frame rate, and a function from
time to :class:`Pose` (or ``None`` when the print is out of the frame). :data:`CATALOGUE` holds the
poses the viewer is measured on — static (frontal, steady, tilted 30° and 50°, small, rotated 90°, dim,
blurred) and moving (table drift, fast pan, leaves and re-enters); the same spec rendered from
another photo is the false-positive control. A new pose is one more entry.

    clip = render_clip(photo_path, CATALOGUE["frontal"], out_dir)
    clip.truth[0]  # [[x, y], …] × 4 for frame 0, or None
    clip = clip_of(photo_path, "frontal", tmp_path_factory)  # in tests: rendered once a session

The files: ``out_dir/NNN.jpg`` and ``out_dir/clip.json`` (``{"name", "fps", "size", "frames":
[{"file", "t", "corners"}]}``), which the fake camera (``fakecam.js``) plays.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

BORDER = 0.04  # the print's white border, as a share of the photo's longer side
FOV_Y_DEGREES = 55.0  # a phone's main camera, roughly


@dataclass(frozen=True)
class Pose:
    """Where the print is in one frame.

    ``x``, ``y``: the print's centre as a share of the frame's width and height. ``width``: the
    printed photo's width as a share of the frame's width when seen head-on. ``roll``: turned in
    the image plane (degrees, clockwise). ``tilt``: tipped back around its horizontal axis
    (degrees; the top moves away). ``yaw``: turned around its vertical axis (degrees).
    """

    x: float = 0.5
    y: float = 0.5
    width: float = 0.55
    roll: float = 0.0
    tilt: float = 0.0
    yaw: float = 0.0


@dataclass(frozen=True)
class Look:
    """The camera and the room: brightness (1 = as printed), Gaussian blur (pixels of sigma),
    sensor noise (standard deviation in grey levels), JPEG quality of the frames."""

    brightness: float = 1.0
    blur: float = 0.6
    noise: float = 5.0
    quality: int = 88


@dataclass(frozen=True)
class ClipSpec:
    name: str
    pose: Callable[[float], Pose | None]
    seconds: float = 4.0
    fps: int = 15
    size: tuple[int, int] = (640, 480)
    look: Look = field(default_factory=Look)
    # A clip whose frames are all alike is stored as one frame (the fake camera shows it forever).
    still: bool = False
    seed: int = 7


@dataclass
class Clip:
    spec: ClipSpec
    folder: Path
    truth: list[list[list[float]] | None]

    @property
    def manifest(self) -> Path:
        return self.folder / "clip.json"


def _still(pose: Pose) -> Callable[[float], Pose]:
    return lambda _t: pose


def _drift(t: float) -> Pose:
    # A phone held over the table: a slow wander of a few per cent and a few degrees.
    return Pose(x=0.5 + 0.03 * math.sin(t * 1.3), y=0.5 + 0.025 * math.cos(t * 0.9), roll=4 * math.sin(t * 0.7), tilt=8)


def _fast_pan(t: float) -> Pose:
    # Sweeps across the table and back every 2 s.
    return Pose(x=0.5 + 0.22 * math.sin(t * math.pi), width=0.45, tilt=10)


def _leaves_and_reenters(t: float) -> Pose | None:
    # In view for 2 s, out for 1.5 s, back for the rest.
    if 2.0 <= t < 3.5:
        return None
    return Pose(tilt=8, roll=3)


CATALOGUE: dict[str, ClipSpec] = {
    spec.name: spec
    for spec in (
        ClipSpec("frontal", _still(Pose()), still=True),
        # Held still, a little tipped and turned: a real print on a table without the motion.
        ClipSpec("steady", _still(Pose(tilt=8, roll=3)), still=True),
        ClipSpec("tilted-30", _still(Pose(tilt=30)), still=True),
        ClipSpec("tilted-50", _still(Pose(tilt=50, width=0.6)), still=True),
        ClipSpec("small", _still(Pose(width=0.22, x=0.4, y=0.55)), still=True),
        ClipSpec("rotated-90", _still(Pose(roll=90, width=0.42)), still=True),
        ClipSpec("dim", _still(Pose(tilt=10)), still=True, look=Look(brightness=0.35, noise=9)),
        ClipSpec("blurred", _still(Pose(tilt=10)), still=True, look=Look(blur=3.0)),
        ClipSpec("drift", _drift, seconds=6.0),
        ClipSpec("fast-pan", _fast_pan, seconds=4.0),
        ClipSpec("leaves-and-reenters", _leaves_and_reenters, seconds=6.0),
    )
}


def table(size: tuple[int, int], seed: int) -> np.ndarray:
    """A wooden table top: brown, with grain and a light gradient; the same for every frame."""
    width, height = size
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    grain = 12 * np.sin(x / 9.0 + 3 * np.sin(y / 41.0)) + rng.normal(0, 7, (height, width))
    light = 1.0 - 0.25 * ((x - width * 0.3) ** 2 + (y - height * 0.2) ** 2) / (width**2)
    base = np.array([58, 79, 107], np.float32)  # BGR of a mid brown
    img = (base[None, None, :] + grain[..., None]) * light[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


def printed(photo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The photo with its white border; and the photo's corners inside it (TL, TR, BR, BL)."""
    h, w = photo.shape[:2]
    pad = round(BORDER * max(w, h))
    sheet = cv2.copyMakeBorder(photo, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(250, 250, 250))
    corners = np.array([[pad, pad], [pad + w, pad], [pad + w, pad + h], [pad, pad + h]], np.float32)
    return sheet, corners


def homography(pose: Pose, sheet_size: tuple[int, int], photo_width: float, frame: tuple[int, int]) -> np.ndarray:
    """Sheet pixels → frame pixels for *pose*: the sheet as a plane in front of a pinhole camera."""
    sw, sh = sheet_size
    fw, fh = frame
    focal = (fh / 2) / math.tan(math.radians(FOV_Y_DEGREES) / 2)
    # Distance at which the photo (not the sheet) spans pose.width of the frame, seen head-on.
    distance = focal * photo_width / (pose.width * fw)
    # Tilt moves the top away (-x rotation with y down, z away); roll turns clockwise on screen.
    rx, ry, rz = (math.radians(a) for a in (-pose.tilt, pose.yaw, pose.roll))
    rot_x = np.array([[1, 0, 0], [0, math.cos(rx), -math.sin(rx)], [0, math.sin(rx), math.cos(rx)]])
    rot_y = np.array([[math.cos(ry), 0, math.sin(ry)], [0, 1, 0], [-math.sin(ry), 0, math.cos(ry)]])
    rot_z = np.array([[math.cos(rz), -math.sin(rz), 0], [math.sin(rz), math.cos(rz), 0], [0, 0, 1]])
    rotation = rot_z @ rot_y @ rot_x
    sheet = np.array([[0, 0], [sw, 0], [sw, sh], [0, sh]], np.float64)
    centred = np.column_stack([sheet - [sw / 2, sh / 2], np.zeros(4)])  # x right, y down, z away
    camera = centred @ rotation.T + [0, 0, distance]
    cx, cy = pose.x * fw, pose.y * fh
    projected = np.column_stack([focal * camera[:, 0] / camera[:, 2] + cx, focal * camera[:, 1] / camera[:, 2] + cy])
    return cv2.getPerspectiveTransform(sheet.astype(np.float32), projected.astype(np.float32))


def render_frame(
    background: np.ndarray,
    sheet: np.ndarray,
    photo_corners: np.ndarray,
    photo_width: float,
    pose: Pose | None,
    look: Look,
    noise: np.ndarray | None,
) -> tuple[np.ndarray, list[list[float]] | None]:
    """One frame (BGR) and the photo's corners in it; all in OpenCV's saturating uint8 arithmetic."""
    height, width = background.shape[:2]
    frame = background.copy()
    corners = None
    if pose is not None:
        matrix = homography(pose, (sheet.shape[1], sheet.shape[0]), photo_width, (width, height))
        # Drawn straight onto the table: pixels outside the sheet keep the background.
        cv2.warpPerspective(
            sheet, matrix, (width, height), dst=frame, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_TRANSPARENT
        )
        points = cv2.perspectiveTransform(photo_corners[None, :, :], matrix)[0]
        corners = [[round(float(x), 2), round(float(y), 2)] for x, y in points]
    if look.brightness != 1.0:
        frame = cv2.convertScaleAbs(frame, alpha=look.brightness)
    if look.blur > 0:
        frame = cv2.GaussianBlur(frame, (0, 0), look.blur)
    if noise is not None:
        frame = cv2.add(frame, noise, dtype=cv2.CV_8U)
    return frame, corners


def _noise_fields(size: tuple[int, int], sigma: float, rng: np.random.Generator, count: int = 6) -> list:
    """A few fields of signed sensor noise, cycled through the frames (drawing one per frame is the
    slowest part of rendering)."""
    if sigma <= 0:
        return [None]
    width, height = size
    return [rng.normal(0, sigma, (height, width, 3)).astype(np.int16) for _ in range(count)]


def render_clip(photo: Path, spec: ClipSpec, out: Path) -> Clip:
    """Render *spec* filming *photo* into *out* (created); returns the clip with its truth."""
    out.mkdir(parents=True, exist_ok=True)
    image = cv2.imread(str(photo), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{photo} is not an image OpenCV can read")
    sheet, photo_corners = printed(image)
    background = table(spec.size, spec.seed)
    rng = np.random.default_rng(spec.seed)
    noises = _noise_fields(spec.size, spec.look.noise, rng)
    count = 1 if spec.still else max(1, round(spec.seconds * spec.fps))
    frames, truth = [], []
    for index in range(count):
        t = index / spec.fps
        pixels, corners = render_frame(
            background,
            sheet,
            photo_corners,
            float(image.shape[1]),
            spec.pose(t),
            spec.look,
            noises[index % len(noises)],
        )
        name = f"{index:03d}.jpg"
        ok, encoded = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, spec.look.quality])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        (out / name).write_bytes(encoded.tobytes())
        frames.append({"file": name, "t": round(t, 4), "corners": corners})
        truth.append(corners)
    manifest = {"name": spec.name, "fps": spec.fps, "size": list(spec.size), "frames": frames}
    (out / "clip.json").write_text(json.dumps(manifest))
    return Clip(spec=spec, folder=out, truth=truth)


_clip_cache: dict[tuple[str, str], Clip] = {}


def clip_of(photo: Path, pose: str, tmp_path_factory) -> Clip:
    """A clip of *photo* in one of the :data:`CATALOGUE`'s poses, rendered once per test session
    (under pytest's *tmp_path_factory*) however many tests and engines play it."""
    key = (str(photo), pose)
    if key not in _clip_cache:
        folder = tmp_path_factory.mktemp(f"clip-{photo.stem}-{pose}")
        _clip_cache[key] = render_clip(photo, CATALOGUE[pose], folder)
    return _clip_cache[key]


def corner_error(reported: list[list[float]], truth: list[list[float]]) -> float:
    """The largest distance (pixels) between a reported corner and the true one."""
    return max(math.dist(a, b) for a, b in zip(reported, truth, strict=True))


def with_look(spec: ClipSpec, **look) -> ClipSpec:
    """The same motion under another light or camera: ``with_look(CATALOGUE["drift"], noise=12)``."""
    return replace(spec, look=replace(spec.look, **look))
