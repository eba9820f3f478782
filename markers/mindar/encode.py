"""The ``.mind`` container: one msgpack document ``{"v": 2, "dataList": [target, ...]}``.

The official compiler encodes with ``@msgpack/msgpack`` 2.8 defaults. Python's ``msgpack`` picks
the same wire types (smallest int form, float64 for every float, bin for byte arrays, str8 for
strings of 32..255 bytes), with one exception that JavaScript hides: JS has a single number type,
so a float with an integral value (a keyframe scale of exactly 1, a coordinate of exactly 281.0)
is written as an *int*. :func:`js_value` applies that rule, which makes our files byte-identical.
"""

from __future__ import annotations

import msgpack
import numpy as np

MIND_VERSION = 2
_MAX_SAFE_INTEGER = 2**53 - 1
_INT_ONLY = {int}


def js_value(value):
    """Normalise a value to what a JS object would encode as (see the module docstring)."""
    kind = type(value)
    if kind is float:
        # inf and NaN are not integers and stay floats, as in JS
        return int(value) if value.is_integer() and abs(value) <= _MAX_SAFE_INTEGER else value
    if kind is dict:
        return {key: js_value(item) for key, item in value.items()}
    if kind is list or kind is tuple:
        if set(map(type, value)) <= _INT_ONLY:  # descriptors, point indexes: nothing to do
            return value if kind is list else list(value)
        return [js_value(item) for item in value]
    if kind is int or kind is str or kind is bool or value is None or kind is bytes:
        return value
    if isinstance(value, np.ndarray):
        if value.dtype == np.uint8:
            return value.tobytes()
        return js_value(value.tolist())
    if isinstance(value, np.generic):
        return js_value(value.item())
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"cannot encode {kind.__name__} in a .mind file")


def pack_mind(targets: list[dict]) -> bytes:
    """Serialise compiled targets (``dataList`` entries) into ``.mind`` bytes."""
    document = {"v": MIND_VERSION, "dataList": [js_value(target) for target in targets]}
    return msgpack.packb(document, use_bin_type=True)
