"""The reference generator (PyPI `nft-marker-creator`, LGPL-3.0) as an optional `.fset3` engine.

Until our `.fset3` has been proven on phones, operators can have the reference native code make
the `.fset3` instead. The package is a separately installed dependency, never vendored: it runs
in a child process through its own CLI, so its native code cannot take this process down and its
`os.chdir` cannot race with our threads. It regenerates `.iset`/`.fset` as well (we discard
them), so this path costs the reference's full runtime.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from .errors import NftFormatError, NftGenerationError
from .fset3 import RefData, parse_fset3

PACKAGE = "nft_marker_creator"
TIMEOUT_SECONDS = 3600


def available() -> bool:
    return importlib.util.find_spec(PACKAGE) is not None


def reference_fset3(image: np.ndarray, dpi: np.float32, sizes: list[tuple[int, int]]) -> RefData:
    """Run the reference on `image` at `dpi` and return its `.fset3`, checked against `sizes`.

    The image goes over as a lossless PNG; the reference converts it to RGB and averages the
    channels in its box filter exactly as our pyramid does, so both see the same levels.
    """
    if not available():
        raise NftGenerationError(
            "fset3_engine='reference' needs the nft-marker-creator package (pip install "
            "nft-marker-creator==0.1.0)"
        )
    with tempfile.TemporaryDirectory(prefix="arv-nft-") as tmp:
        source = Path(tmp) / "marker.png"
        Image.fromarray(image).save(source)
        # repr of the float32 value parses back to the same float32 in the C code's sscanf.
        command = [
            sys.executable, "-m", PACKAGE, "-i", str(source), "-o", tmp,
            "--dpi", repr(float(dpi)), "--threads", "1",
        ]
        try:
            # A fixed argv (this interpreter, -m, our temp paths) and no shell. RUF100: some
            # branches' ruff config already ignores S603 project-wide.
            done = subprocess.run(  # noqa: S603, RUF100
                command, capture_output=True, timeout=TIMEOUT_SECONDS, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise NftGenerationError("the reference generator timed out") from exc
        output = Path(tmp) / "marker.fset3"
        if done.returncode != 0 or not output.exists():
            detail = done.stderr.decode(errors="replace").strip()[-500:]
            raise NftGenerationError(f"the reference generator failed: {detail}")
        data = output.read_bytes()
    try:
        ref = parse_fset3(data)
    except NftFormatError as exc:
        raise NftGenerationError(f"the reference generator wrote an invalid .fset3: {exc}") from exc
    got = [(int(w), int(h)) for w, h in zip(ref.images["width"], ref.images["height"], strict=True)]
    if got != list(sizes):
        raise NftGenerationError("the reference generator built a different image pyramid")
    return ref
