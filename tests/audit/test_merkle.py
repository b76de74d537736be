"""RFC 9162 Merkle tree functions against the Certificate Transparency reference vectors
(google/certificate-transparency merkle_tree_test, transparency-dev/merkle testonly) and the RFC's definitions."""

import hashlib

import pytest

from dancu.audit import merkle

# The reference leaves (as data) and the root of every tree size 0..8.
LEAVES = [bytes.fromhex(h) for h in
          ("", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f")]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = [  # (index, size, proof)
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
CONSISTENCY = [  # (first, second, proof)
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]

class Tree:
    """Every perfect subtree of a list of leaf hashes, in memory."""

    def __init__(self, leaves):
        self.levels = [list(leaves)]
        while len(self.levels[-1]) > 1:
            below = self.levels[-1]
            self.levels.append([merkle.node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])

    def nodes(self, needed):
        return {(level, i): self.levels[level][i] for level, i in needed
                if level < len(self.levels) and i < len(self.levels[level])}

    def root(self, size):
        return merkle.root(size, self.nodes)


TREE = Tree([merkle.leaf_hash(data) for data in LEAVES])


def _mth(leaves: list[bytes]) -> bytes:
    """MTH exactly as RFC 9162 2.1.1 writes it, recursively over the leaf data."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:])).digest()


def test_roots_match_the_reference_for_every_size():
    assert merkle.EMPTY_ROOT.hex() == ROOTS[0]
    for size in range(len(LEAVES) + 1):
        assert TREE.root(size).hex() == ROOTS[size] == _mth(LEAVES[:size]).hex()


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_inclusion_proofs_match_the_reference(index, size, proof):
    assert [h.hex() for h in merkle.inclusion_proof(index, size, TREE.nodes)] == proof
    leaf = merkle.leaf_hash(LEAVES[index])
    root = bytes.fromhex(ROOTS[size])
    assert merkle.verify_inclusion(leaf, index, size, [bytes.fromhex(h) for h in proof], root)
    assert not merkle.verify_inclusion(leaf, index ^ 1, size, [bytes.fromhex(h) for h in proof], root)


@pytest.mark.parametrize(("first", "second", "proof"), CONSISTENCY)
def test_consistency_proofs_match_the_reference(first, second, proof):
    assert [h.hex() for h in merkle.consistency_proof(first, second, TREE.nodes)] == proof
    hashes = [bytes.fromhex(h) for h in proof]
    assert merkle.verify_consistency(first, second, bytes.fromhex(ROOTS[first]), bytes.fromhex(ROOTS[second]), hashes)
    assert not merkle.verify_consistency(first, second, bytes.fromhex(ROOTS[first - 1]),
                                         bytes.fromhex(ROOTS[second]), hashes)


def test_every_proof_of_every_tree_up_to_40_leaves_verifies_and_a_mangled_one_does_not():
    data = [i.to_bytes(2, "big") for i in range(40)]
    tree = Tree([merkle.leaf_hash(d) for d in data])
    roots = [_mth(data[:n]) for n in range(41)]
    for n in range(1, 41):
        assert tree.root(n) == roots[n]
        for i in range(n):
            proof = merkle.inclusion_proof(i, n, tree.nodes)
            assert merkle.verify_inclusion(merkle.leaf_hash(data[i]), i, n, proof, roots[n])
            assert not merkle.verify_inclusion(merkle.leaf_hash(data[i] + b"x"), i, n, proof, roots[n])
            if proof:
                assert not merkle.verify_inclusion(merkle.leaf_hash(data[i]), i, n, proof[:-1], roots[n])
        for m in range(0, n + 1):
            proof = merkle.consistency_proof(m, n, tree.nodes)
            assert merkle.verify_consistency(m, n, roots[m], roots[n], proof), (m, n)
            if 0 < m < n:
                bent = [proof[0][:-1] + bytes([proof[0][-1] ^ 1]), *proof[1:]]
                assert not merkle.verify_consistency(m, n, roots[m], roots[n], bent)
                assert not merkle.verify_consistency(m, n, roots[m], roots[n], proof[:-1])
                assert not merkle.verify_consistency(m, n, roots[m - 1] if m > 1 else roots[2], roots[n], proof)


def test_appending_in_batches_builds_the_same_nodes_as_the_whole_tree():
    leaves = [merkle.leaf_hash(i.to_bytes(2, "big")) for i in range(37)]
    stored: dict = {}
    for start, end in ((0, 1), (1, 8), (8, 13), (13, 37)):
        frontier = {node: stored[node] for node in merkle.blocks(0, start)}
        stored.update(merkle.new_nodes(start, leaves[start:end], frontier))
    whole = Tree(leaves)
    assert stored == {(level, i): h for level, row in enumerate(whole.levels) for i, h in enumerate(row)}


def test_a_compact_range_has_the_root_of_the_leaves_appended_so_far():
    compact = merkle.CompactRange()
    assert compact.root().hex() == ROOTS[0]
    for size, data in enumerate(LEAVES, start=1):
        compact.append(merkle.leaf_hash(data))
        assert compact.root().hex() == ROOTS[size]
