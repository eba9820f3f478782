"""Our vectorised fdlibm against V8's Math.atan2 / Math.sin / Math.cos (Node 20).

The fixed cases are inputs where glibc and/or NumPy return a different last bit than V8: a plain
``math``/``numpy`` call would fail them. The randomised test asks the ``node`` binary itself.
"""

import json
import math
import shutil
import subprocess

import numpy as np
import pytest

from markers.mindar import fdlibm

# (angle, V8 Math.cos, V8 Math.sin), recorded with Node 20.20.
TRIG_CASES = [
    (1.9520187377929688, "-0x1.7cfc175d35efep-2", "0x1.db3e68edc378cp-1"),
    (-2.2461531162261963, "-0x1.40170bb4b4773p-1", "-0x1.8f9b9772f8a00p-1"),
    (2.207531452178955, "-0x1.306bf0c81286fp-1", "0x1.9bab4b5f4386ep-1"),
    (-0.76495760679245, "0x1.715ce05b5ccd2p-1", "-0x1.62903373f2c3dp-1"),
    (1.3624976873397827, "0x1.a78475b433e3dp-3", "0x1.f4eec4eac531bp-1"),
    (-0.5108189582824707, "0x1.bea3ed7632dd3p-1", "-0x1.f4a00ef4f7016p-2"),
    (3.1415927410125732, (-0.9999999999999962).hex(), (-8.742278000372475e-8).hex()),
    (1.5707963705062866, (-4.371139000186241e-8).hex(), (0.999999999999999).hex()),
]
# (y, x, V8 Math.atan2(y, x)); glibc and NumPy both disagree with V8 on the first six.
ATAN2_CASES = [
    (29.551441192626953, 205.97801208496094, "0x1.23d5396001c04p-3"),
    (-249.5787353515625, -19.260208129882812, "-0x1.a5d72c9d0e083p+0"),
    (163.4833221435547, -224.33377075195312, "0x1.4183aa134b83ep+1"),
    (188.74935913085938, -18.334423065185547, "0x1.aae9b9f550fd4p+0"),
    (-189.3321990966797, -17.686540603637695, "-0x1.a9f81046408d9p+0"),
    (-105.22435760498047, 250.44175720214844, "-0x1.974e54b124becp-2"),
    (0.0, -1.0, math.pi.hex()),
    (-5.0, -5.0, (-2.356194490192345).hex()),
    (100.0, 1e-30, (1.5707963267948966).hex()),
    (-0.0001220703125, 12.5, (-0.00000976562499968956).hex()),
]


def test_sin_and_cos_match_v8_where_libm_differs():
    angles = np.array([case[0] for case in TRIG_CASES])
    assert fdlibm.cos(angles).tolist() == [float.fromhex(case[1]) for case in TRIG_CASES]
    assert fdlibm.sin(angles).tolist() == [float.fromhex(case[2]) for case in TRIG_CASES]


def test_atan2_matches_v8_where_libm_differs():
    y = np.array([case[0] for case in ATAN2_CASES])
    x = np.array([case[1] for case in ATAN2_CASES])
    assert fdlibm.atan2(y, x).tolist() == [float.fromhex(case[2]) for case in ATAN2_CASES]


def test_atan2_signs_of_zero_follow_ieee():
    y = np.array([0.0, -0.0, 0.0, -0.0, 3.0, -3.0])
    x = np.array([2.0, 2.0, -2.0, -2.0, 0.0, -0.0])
    got = fdlibm.atan2(y, x)
    assert got.tolist() == [0.0, -0.0, math.pi, -math.pi, math.pi / 2, -math.pi / 2]
    assert math.copysign(1.0, got[1]) == -1.0


def test_sin_and_cos_refuse_arguments_beyond_the_medium_reduction():
    with pytest.raises(ValueError, match="range"):
        fdlibm.cos(np.array([1e7]))


def node_major_version() -> int | None:
    if shutil.which("node") is None:
        return None
    version = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True)
    return int(version.stdout.strip().lstrip("v").split(".")[0])


@pytest.mark.skipif(
    node_major_version() != 20,
    reason="needs Node 20, whose V8 (fdlibm maths) produced the reference .mind files",
)
def test_random_inputs_match_node():
    rng = np.random.default_rng(7)
    # The compiler's inputs: float32 angles in [-pi, pi], differences of float32 grey levels.
    angles = rng.uniform(-3.2, 3.2, 20000).astype(np.float32).astype(np.float64)
    grey = rng.uniform(0, 255, (4, 20000)).astype(np.float32).astype(np.float64)
    y, x = grey[0] - grey[1], grey[2] - grey[3]
    script = (
        "const d = JSON.parse(require('fs').readFileSync(0));"
        "console.log(JSON.stringify([d.a.map(Math.cos), d.a.map(Math.sin),"
        " d.y.map((v, i) => Math.atan2(v, d.x[i]))]));"
    )
    payload = json.dumps({"a": angles.tolist(), "y": y.tolist(), "x": x.tolist()})
    result = subprocess.run(
        ["node", "-e", script], input=payload, capture_output=True, text=True, check=True
    )
    cos, sin, atan2 = json.loads(result.stdout)
    assert fdlibm.cos(angles).tolist() == cos
    assert fdlibm.sin(angles).tolist() == sin
    assert fdlibm.atan2(y, x).tolist() == atan2
