"""Pure-Python compiler for MindAR image targets (``.mind`` files), byte-identical to the official
``mind-ar`` 1.2.5 ``OfflineCompiler``.

No Django here: the package takes bytes or arrays and returns bytes or plain objects, so it can
run in a worker, a management command or a test without settings. See ``docs/mindar-compiler.md``.
"""

from .compact import CompactFormatError, CompactMarker, compact_from_mind, pack_compact, read_compact
from .compiler import CompileResult, compile_mind, compile_target
from .decode import ImageDecodeError, decode_image, to_grey
from .encode import pack_mind
from .quality import TrackabilityReport
from .reader import (
    KeyframeInfo,
    MindFile,
    MindFormatError,
    TargetInfo,
    TrackingSetInfo,
    merge_mind,
    read_mind,
)

# Stored with every compiled marker and part of the reuse-by-content-hash key: bump it whenever
# the bytes produced for the same input change.
COMPILER_VERSION = "arv-mindar/1 (mind-ar 1.2.5)"

__all__ = [
    "COMPILER_VERSION",
    "CompactFormatError",
    "CompactMarker",
    "CompileResult",
    "ImageDecodeError",
    "KeyframeInfo",
    "MindFile",
    "MindFormatError",
    "TargetInfo",
    "TrackabilityReport",
    "TrackingSetInfo",
    "compact_from_mind",
    "compile_mind",
    "compile_target",
    "decode_image",
    "merge_mind",
    "pack_compact",
    "pack_mind",
    "read_compact",
    "read_mind",
    "to_grey",
]
