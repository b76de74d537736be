"""Merkle tree hashing and proofs exactly as RFC 9162 (Certificate Transparency 2.0), section 2.1.

A leaf hash is ``SHA-256(0x00 || data)``, an interior node ``SHA-256(0x01 ||
left || right)``, and the tree over ``n`` leaves splits at the largest power of
two smaller than ``n``. Every subtree the RFC's recursions name (MTH of
``D[lo:hi]``) starts at a multiple of the largest power of two not above its
size, so it is the right fold of a few *perfect* subtrees: a node ``(level,
index)`` covering leaves ``index * 2**level`` to ``(index + 1) * 2**level``.
The proofs are therefore first worked out as ranges of leaves (``inclusion_ranges``,
``consistency_ranges``) and then filled in from any source of perfect-subtree
hashes, such as the ``audit_tree_node`` table.

pymerkle was considered and not used: its proofs carry their own layout
("rule", "subset") instead of RFC 9162's plain list of hashes, and its
backends store the leaves themselves, where dancu's leaves are access-log rows.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

Node = tuple[int, int]  # (level, index) of a perfect subtree
NodeSource = Callable[[Sequence[Node]], dict[Node, bytes]]


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two smaller than ``size`` (``size`` > 1): RFC 9162's ``k``."""
    return 1 << ((size - 1).bit_length() - 1)


def blocks(lo: int, hi: int) -> list[Node]:
    """The perfect subtrees, left to right, whose right fold is MTH(D[lo:hi]) for an RFC 9162 subtree."""
    nodes = []
    while lo < hi:
        level = (hi - lo).bit_length() - 1
        if lo % (1 << level):
            raise ValueError(f"[{lo}, {hi}) is not a subtree of an RFC 9162 Merkle tree")
        nodes.append((level, lo >> level))
        lo += 1 << level
    return nodes


def fold(hashes: Sequence[bytes]) -> bytes:
    """Right fold of the perfect subtrees of a range: H(h0, H(h1, ... H(h_{k-1}, h_k)))."""
    if not hashes:
        return EMPTY_ROOT
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The ranges whose MTHs make PATH(index, D[0:size]), in proof order (RFC 9162 2.1.3.1)."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    ranges, lo, hi = [], 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index - lo < k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
    return ranges[::-1]


def consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """The ranges whose MTHs make PROOF(first, D[0:second]), in proof order (RFC 9162 2.1.4.1).

    Empty when ``first`` is 0 or equals ``second``: every tree extends the empty tree and itself.
    """
    if not 0 <= first <= second:
        raise ValueError(f"a tree of size {second} cannot extend one of size {first}")
    if first in (0, second):
        return []
    ranges, lo, hi, m, whole = [], 0, second, first, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    if not whole:
        ranges.append((lo, hi))
    return ranges[::-1]


def hashes_of(ranges: Iterable[tuple[int, int]], source: NodeSource) -> list[bytes]:
    """The MTH of each range, fetching every perfect subtree they need from ``source`` in one call."""
    ranges = list(ranges)
    needed = [node for lo, hi in ranges for node in blocks(lo, hi)]
    found = source(needed)
    missing = [node for node in needed if node not in found]
    if missing:
        raise LookupError(f"tree nodes {missing[:3]} are missing")
    return [fold([found[node] for node in blocks(lo, hi)]) for lo, hi in ranges]


def root(size: int, source: NodeSource) -> bytes:
    return hashes_of([(0, size)], source)[0] if size else EMPTY_ROOT


def inclusion_proof(index: int, size: int, source: NodeSource) -> list[bytes]:
    return hashes_of(inclusion_ranges(index, size), source)


def consistency_proof(first: int, second: int, source: NodeSource) -> list[bytes]:
    return hashes_of(consistency_ranges(first, second), source)


def _equal(a: bytes, b: bytes) -> bool:
    return len(a) == len(b) == HASH_SIZE and hmac.compare_digest(a, b)


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root_hash: bytes) -> bool:
    """RFC 9162 2.1.3.2: does ``proof`` place the leaf hash ``leaf`` at ``index`` of the tree ``root_hash``?"""
    if not 0 <= index < size or any(len(p) != HASH_SIZE for p in proof):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and _equal(r, root_hash)


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes,
                       proof: Sequence[bytes]) -> bool:
    """RFC 9162 2.1.4.2: is the tree ``second_root`` of size ``second`` an extension of ``first_root``?"""
    if not 0 <= first <= second or any(len(p) != HASH_SIZE for p in proof):
        return False
    if first == 0:
        return not proof and _equal(first_root, EMPTY_ROOT)
    if first == second:
        return not proof and _equal(first_root, second_root)
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # an exact power of two: the old root is the first node of the path
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and _equal(fr, first_root) and _equal(sr, second_root)


class CompactRange:
    """The perfect subtrees on the right edge of a growing tree: its root in O(log n) memory.

    How an auditor rebuilds the root from the entries themselves, one leaf at a time.
    """

    def __init__(self) -> None:
        self.size = 0
        self.hashes: list[bytes] = []  # left to right, largest first

    def append(self, leaf: bytes) -> None:
        value, size = leaf, self.size
        while size & 1:
            value = node_hash(self.hashes.pop(), value)
            size >>= 1
        self.hashes.append(value)
        self.size += 1

    def root(self) -> bytes:
        return fold(self.hashes)


def new_nodes(size: int, leaves: Sequence[bytes], frontier: dict[Node, bytes]) -> dict[Node, bytes]:
    """The perfect subtrees completed by appending ``leaves`` to a tree of ``size`` leaves.

    ``frontier`` holds the tree's current perfect subtrees on its right edge
    (``blocks(0, size)``): the only old nodes a new one can have as left child.
    """
    known = dict(frontier)
    added: dict[Node, bytes] = {}
    for offset, leaf in enumerate(leaves):
        level, index, value = 0, size + offset, leaf
        added[(0, index)] = known[(0, index)] = value
        while index & 1:
            value = node_hash(known[(level, index - 1)], value)
            level, index = level + 1, index >> 1
            added[(level, index)] = known[(level, index)] = value
    return added
