"""Hostile input: random and mutated files give a validation error or a clean result, never a
crash, and stay within bounded memory."""

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from content.tests.fuzz_corpus import mutate, png_with_header, seeds
from content.validators import validate_image, validate_video

ROOT = Path(__file__).resolve().parents[2]
FUZZ = settings(
    max_examples=120,
    deadline=timedelta(seconds=20),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return seeds(tmp_path_factory.mktemp("seeds"))


def only_validation_errors(validator, data: bytes):
    """Run *validator*: a clean result or a ValidationError with messages; anything else fails."""
    error = None
    try:
        result = validator(SimpleUploadedFile("upload.bin", data))
    except ValidationError as exc:
        error = exc
    else:
        if hasattr(result, "cleanup"):
            result.cleanup()
    if error is not None:
        assert error.messages and all(isinstance(m, str) and m for m in error.messages)


@FUZZ
@given(data=st.binary(min_size=0, max_size=20_000))
def test_random_bytes_as_an_image(data):
    only_validation_errors(validate_image, data)


@FUZZ
@given(
    prefix=st.sampled_from(
        [b"\xff\xd8\xff\xe0", b"\x89PNG\r\n\x1a\n", b"RIFF\x00\x00\x00\x00WEBP", b"GIF89a", b"\x00\x00\x00\x18ftypheic"]
    ),
    rest=st.binary(max_size=5000),
)
def test_real_magic_numbers_with_garbage(prefix, rest):
    only_validation_errors(validate_image, prefix + rest)


@FUZZ
@given(seed=st.integers(min_value=0, max_value=2**32 - 1), kind=st.sampled_from(["jpeg", "png", "webp"]))
def test_mutated_images(corpus, seed, kind):
    import random

    only_validation_errors(validate_image, mutate(corpus[kind], random.Random(seed)))  # noqa: S311 - fuzzing, not crypto


@FUZZ
@given(
    width=st.integers(min_value=0, max_value=2**31 - 1),
    height=st.integers(min_value=0, max_value=2**31 - 1),
    depth=st.sampled_from([1, 2, 4, 8, 16]),
    colour=st.sampled_from([0, 2, 3, 4, 6, 7]),
)
def test_png_headers_claiming_anything(width, height, depth, colour):
    only_validation_errors(validate_image, png_with_header(width, height, depth, colour))


@settings(
    max_examples=25,
    deadline=timedelta(seconds=60),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_mutated_videos(corpus, seed):
    import random

    only_validation_errors(validate_video, mutate(corpus["mp4"], random.Random(seed)))  # noqa: S311 - fuzzing, not crypto


@settings(max_examples=40, deadline=timedelta(seconds=60))
@given(
    prefix=st.sampled_from([b"\x00\x00\x00\x18ftypmp42", b"\x1a\x45\xdf\xa3", b"\x00\x00\x00\x08moov"]),
    rest=st.binary(max_size=5000),
)
def test_video_magic_numbers_with_garbage(prefix, rest):
    only_validation_errors(validate_video, prefix + rest)


@pytest.mark.slow
def test_a_mutation_corpus_under_a_hard_memory_limit():
    """300 mutated files and four decompression bombs in a child process capped at 1.5 GB of
    address space: any crash, or a MemoryError from an allocation the caps should have stopped,
    fails the run."""
    result = subprocess.run(
        [sys.executable, "-m", "content.tests.fuzz_harness", "300", "20261122", "1536"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0 and result.stdout.startswith("ok "), result.stdout[-3000:] + result.stderr[-3000:]
