"""Hierarchical k-medoids trees over FREAK descriptors (``matching/hierarchical-clustering.js``).

The runtime searches these trees to find descriptor matches quickly. Each tree is built with a
fresh MSVC ``rand()`` LCG seeded with 1234; every node with more than 16 points tries 128 random
sets of 8 medoids and keeps the first set with the smallest total Hamming distance. The tree
shape depends on the RNG stream, so the draws, the tie-breaks and the depth-first order of child
construction (ascending medoid index, as JS ``Object.keys`` orders integer keys) all follow the
official code exactly.

Speed: the Hamming distances of all point pairs are computed once per tree (XOR + popcount over
uint64 words), so each node's 128 hypotheses become a single gather and ``argmin``.
"""

from __future__ import annotations

import numpy as np

NUM_CENTERS = 8
MIN_FEATURE_PER_NODE = 16
NUM_ASSIGNMENT_HYPOTHESES = 128
RANDOM_SEED = 1234

_LCG_MUL = 214013
_LCG_ADD = 2531011
_LCG_MOD = 1 << 31
_DRAWS_PER_NODE = NUM_ASSIGNMENT_HYPOTHESES * NUM_CENTERS


def _lcg_jump_table(count: int) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients (a_k, c_k) with seed_{n+k} = (a_k * seed_n + c_k) mod 2^31, k = 1..count,
    so a node's 1024 draws are computed at once instead of one Python step at a time."""
    mul = np.empty(count, dtype=np.int64)
    add = np.empty(count, dtype=np.int64)
    a, c = 1, 0
    for k in range(count):
        a, c = (a * _LCG_MUL) % _LCG_MOD, (c * _LCG_MUL + _LCG_ADD) % _LCG_MOD
        mul[k], add[k] = a, c
    return mul, add


_JUMP_MUL, _JUMP_ADD = _lcg_jump_table(_DRAWS_PER_NODE)
_SLOT_BITS = 3  # the 8 center slots of a hypothesis
_SLOTS = np.arange(1 << _SLOT_BITS, dtype=np.uint16)[None, :, None]


class _Random:
    def __init__(self) -> None:
        self.seed = RANDOM_SEED

    def draws(self) -> np.ndarray:
        """The next 1024 values of ``(seed >> 16) & 0x7fff``, advancing the generator."""
        seeds = (_JUMP_MUL * self.seed + _JUMP_ADD) % _LCG_MOD
        self.seed = int(seeds[-1])
        return (seeds >> 16) & 0x7FFF


def hamming_matrix(descriptors: np.ndarray) -> np.ndarray:
    """All-pairs Hamming distances (uint16) of N x 21 uint32 descriptor words."""
    count = len(descriptors)
    words = np.zeros((count, 22), dtype=np.uint32)
    words[:, :21] = descriptors
    packed = words.view(np.uint64)  # 11 x 64 bits
    distances = np.zeros((count, count), dtype=np.uint16)
    for k in range(packed.shape[1]):
        column = packed[:, k]
        distances += np.bitwise_count(column[:, None] ^ column[None, :]).astype(np.uint16)
    return distances


def build(descriptors: np.ndarray) -> dict:
    """``{"rootNode": node}`` for the points whose descriptors are given, in point order."""
    distances = hamming_matrix(descriptors)
    rng = _Random()
    return {"rootNode": _build(np.arange(len(descriptors)), None, distances, rng)}


def _build(indexes: np.ndarray, center: str | None, distances: np.ndarray, rng: _Random) -> dict:
    if len(indexes) <= max(NUM_CENTERS, MIN_FEATURE_PER_NODE):
        return _leaf(center, indexes)
    assignment = _k_medoids(indexes, distances, rng)
    centers = indexes[assignment]
    # Object.keys() lists integer-like keys in ascending numeric order.
    children_centers = np.unique(centers)
    if len(children_centers) == 1:
        return _leaf(center, indexes)
    children = [
        _build(indexes[centers == c], str(int(c)), distances, rng) for c in children_centers
    ]
    return {"centerPointIndex": center, "leaf": False, "children": children}


def _leaf(center: str | None, indexes: np.ndarray) -> dict:
    return {"centerPointIndex": center, "leaf": True, "pointIndexes": indexes.tolist()}


def _k_medoids(indexes: np.ndarray, distances: np.ndarray, rng: _Random) -> np.ndarray:
    """Best of 128 shuffled medoid sets; returns, per point, the position (in ``indexes``) of
    its medoid."""
    count = len(indexes)
    perm = list(range(count))
    picks = (rng.draws() % count).tolist()
    medoids = []
    # The shuffle is cumulative: each hypothesis reshuffles the previous permutation.
    for hypothesis in range(NUM_ASSIGNMENT_HYPOTHESES):
        base = hypothesis * NUM_CENTERS
        for i in range(NUM_CENTERS):
            k = picks[base + i]
            perm[i], perm[k] = perm[k], perm[i]
        medoids.append(perm[:NUM_CENTERS])
    medoids = np.array(medoids)

    local = distances[np.ix_(indexes, indexes)]
    # key = distance * 8 + center slot (at most 672 * 8 + 7, a uint16): its minimum over the
    # 8 centers gives both the smallest
    # distance and, among equal distances, the first center, as the official strict '<' scan
    # over k = 0..7 does. Distances are symmetric, so whole rows can be gathered.
    keys = (local[medoids] << _SLOT_BITS) + _SLOTS  # (hypotheses, centers, points)
    nearest = keys.min(axis=1)
    totals = (nearest >> _SLOT_BITS).sum(axis=1, dtype=np.int64)
    best = int(np.argmin(totals))  # first minimum, as the strict '<' comparison keeps
    return medoids[best][nearest[best] & (NUM_CENTERS - 1)]
