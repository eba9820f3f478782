"""AR.js / ARToolKit NFT marker sets (`.iset`, `.fset`, `.fset3`) in pure Python.

A re-implementation of WebARKitLib's genTexData (as shipped in nft-marker-creator 0.1.0) that
produces the same files an order of magnitude faster. No Django here: the markers app calls it.
See docs/nft-generator.md for how it works and how close it is to the reference.
"""

from .errors import NftFormatError, NftGenerationError
from .generator import (
    DEFAULT_DPI,
    GENERATOR_VERSION,
    NftMarkerSet,
    NftScale,
    dpi_from_image_info,
    generate_nft,
)
from .reader import NftInfo, read_nft

__all__ = [
    "DEFAULT_DPI",
    "GENERATOR_VERSION",
    "NftFormatError",
    "NftGenerationError",
    "NftInfo",
    "NftMarkerSet",
    "NftScale",
    "dpi_from_image_info",
    "generate_nft",
    "read_nft",
]
