"""Schemathesis hooks for ``test_api_fuzz`` (loaded by the schemathesis process, not by pytest).

Uploads would never get past the validators with random bytes, so every positive upload case is
given a real small photo or video, and an existing project: the success paths are fuzzed too,
and no request waits on large random files. Negative cases are left as generated.
"""

import os
from pathlib import Path

import schemathesis
from schemathesis import GenerationMode

PHOTO = Path(os.environ["ARV_FUZZ_PHOTO"]).read_bytes()
VIDEO = Path(os.environ["ARV_FUZZ_VIDEO"]).read_bytes()
PROJECT = os.environ["ARV_FUZZ_PROJECT"]


def with_real_files(case):
    meta = case.meta
    if meta is None or meta.generation.mode != GenerationMode.POSITIVE or not isinstance(case.body, dict):
        return case
    if "image" in case.body:
        case.body["image"] = PHOTO
        case.body["project"] = PROJECT
    if "video" in case.body:
        case.body["video"] = VIDEO
    return case


@schemathesis.hook
def map_case(context, case):
    return with_real_files(case)
