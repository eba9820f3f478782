"""Compile images with our package, decoding like node-canvas (EXIF not applied).

    python bench/mindar_ours.py OUT.mind IMAGE [IMAGE ...]

The child process of ``bench/mindar_compare.py``: it imports nothing but the compiler, so its
measured CPU time is start-up, imports and the compile itself, like the Node side. It prints the
CPU seconds spent after the imports (decode, compile, write), which is what a long-lived worker
pays per marker.
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from markers.mindar import compile_mind, decode_image, to_grey

start = time.process_time()
out, *images = sys.argv[1:]
greys = [to_grey(decode_image(Path(p).read_bytes(), apply_exif=False)) for p in images]
Path(out).write_bytes(compile_mind(greys).data)
print(f"{time.process_time() - start:.3f}")
