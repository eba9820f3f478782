"""Run the validators over a seeded corpus of mutated files under a hard memory limit.

    python -m content.tests.fuzz_harness COUNT SEED MEMORY_MB

Prints "ok N" when every input ended in success or a ValidationError; otherwise prints the
offending input's description and exits 1. Started by test_fuzz.py in a child process, so the
limit (RLIMIT_AS) applies to it alone.
"""

from __future__ import annotations

import os
import random
import resource
import sys
import tempfile
import traceback
from pathlib import Path


def main() -> int:
    count, seed, memory_mb = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arv.settings_test")
    import django

    django.setup()
    from django.core.exceptions import ValidationError
    from django.core.files.uploadedfile import SimpleUploadedFile

    from content.tests.fuzz_corpus import mutate, png_with_header, seeds
    from content.validators import validate_image, validate_video

    tmp = Path(tempfile.mkdtemp(prefix="arv-fuzz-"))
    corpus = seeds(tmp)
    # Set the limit after the imports and the seeds: it is the validators being bounded.
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    rng = random.Random(seed)  # noqa: S311 - a reproducible corpus, not crypto
    cases = [
        (f"bomb {w}x{h}", png_with_header(w, h), "image")
        for w, h in ((7000, 7000), (100000, 100000), (1, 10**6), (8192, 6100))
    ]
    for i in range(count):
        name = rng.choice(list(corpus))
        cases.append((f"{name} mutation {i}", mutate(corpus[name], rng), "video" if name == "mp4" else "image"))
    for description, data, kind in cases:
        validator = validate_video if kind == "video" else validate_image
        try:
            result = validator(SimpleUploadedFile("upload.bin", data))
            if kind == "video":
                result.cleanup()
        except ValidationError:
            pass
        except BaseException:
            print(f"FAIL {description}: {traceback.format_exc()}")
            return 1
    print(f"ok {len(cases)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
