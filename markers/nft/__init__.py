"""AR.js / ARToolKit NFT marker sets (`.iset`, `.fset`, `.fset3`) in pure Python.

A re-implementation of WebARKitLib's genTexData (as shipped in nft-marker-creator 0.1.0). No
Django here: the markers app calls it.
"""
