"""Exceptions raised by the NFT marker package."""


class NftFormatError(ValueError):
    """A `.iset`, `.fset` or `.fset3` file is malformed, inconsistent or too large."""


class NftGenerationError(RuntimeError):
    """A marker set could not be generated (bad input, or the reference engine failed)."""
