"""The JavaScript tests' fixtures (jstests/fixtures/) are exactly what the compiler produces now.

jstests/ checks the arv viewer engine against these files: the detector's points and
descriptors, and compact markers. Rebuilding them in memory and comparing byte for byte means a
change to the compiler cannot leave the JavaScript tests checking against stale expectations;
when the change is deliberate, ``python -m markers.tests.arv_vectors`` rewrites them.
"""

import json

import pytest

from markers.tests import arv_vectors

BUILT = arv_vectors.build()


@pytest.mark.parametrize("name", sorted(BUILT))
def test_committed_fixture_is_current(name):
    committed = (arv_vectors.OUTPUT / name).read_bytes()
    assert committed == BUILT[name], f"jstests/fixtures/{name} is stale: run python -m markers.tests.arv_vectors"


def test_no_stray_fixture():
    on_disk = {p.name for p in arv_vectors.OUTPUT.iterdir() if p.is_file()}
    assert on_disk == set(BUILT)


def test_vectors_are_keyframes_with_enough_points():
    for name, _, _ in arv_vectors.DETECTOR_CASES:
        vector = json.loads(BUILT[f"detector-{name}.json"])
        points = vector["points"]
        assert len(points["x"]) >= 50
        assert {len(points[key]) for key in ("maxima", "x", "y", "scale", "angle", "descriptors")} == {len(points["x"])}
        assert all(len(d) == 168 for d in points["descriptors"])  # 21 words as hex
