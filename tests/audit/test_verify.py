"""The standalone verifier, on the Certificate Transparency reference vectors and random trees."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parcelguard import verify
from parcelguard.audit.merkle import ProofBuilder, perfect_subtrees
from parcelguard.crypto import signing

# transparency-dev/merkle proof/verify_test.go (after RFC 6962's reference tree): leaves, roots of
# sizes 1..8, inclusion proofs (1-based leaf numbers there, 0-based here) and consistency proofs.
LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                     "606162636465666768696a6b6c6d6e6f")]
ROOTS = [bytes.fromhex(h) for h in (
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]
EMPTY = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def h(*hexes: str) -> list[bytes]:
    return [bytes.fromhex(x) for x in hexes]


INCLUSION = [
    (0, 8, h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")),
    (5, 8, h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")),
    (2, 3, h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")),
    (1, 5, h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")),
]
CONSISTENCY = [
    (1, 1, []),
    (1, 8, h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")),
    (6, 8, h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")),
    (2, 5, h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")),
    (6, 7, h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
             "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")),
]


def builder_for(entries: list[bytes]) -> ProofBuilder:
    """A proof builder over an in-memory tree (every perfect subtree computed up front)."""
    hashes = [verify.leaf_hash(e) for e in entries]

    def read(nodes: list[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        return {(lv, i): verify.root_of_leaf_hashes(hashes[i << lv:(i + 1) << lv]) for lv, i in nodes}

    return ProofBuilder(read)


def test_the_roots_match_the_reference_tree() -> None:
    assert verify.merkle_root([]) == EMPTY
    for size in range(1, 9):
        assert verify.merkle_root(LEAVES[:size]) == ROOTS[size - 1]
        assert builder_for(LEAVES[:size]).root(size) == ROOTS[size - 1]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_reference_inclusion_proofs_verify_and_we_build_the_same(index: int, size: int, proof: list[bytes]) -> None:
    leaf = verify.leaf_hash(LEAVES[index])
    assert verify.verify_inclusion(leaf, index, size, proof, ROOTS[size - 1])
    assert builder_for(LEAVES).inclusion(index, size) == proof


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_broken_variants_of_reference_inclusion_proofs_fail(index: int, size: int, proof: list[bytes]) -> None:
    leaf, root = verify.leaf_hash(LEAVES[index]), ROOTS[size - 1]
    probes = [
        (index - 1, size, leaf, proof, root), (index + 1, size, leaf, proof, root),
        (index ^ 2, size, leaf, proof, root), (index, size * 2, leaf, proof, root),
        (index, size // 2, leaf, proof, root), (index, size, b"WrongLeaf", proof, root),
        (index, size, leaf, proof, EMPTY), (index, size, leaf, proof, SOME_HASH),
        (index, size, leaf, [*proof, b""], root), (index, size, leaf, [*proof, root], root),
        (index, size, leaf, [b"", *proof], root), (index, size, leaf, [root, *proof], root),
        (index, size, leaf, proof[:-1], root),
    ]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([proof[i][0] ^ 8]) + proof[i][1:]
        probes.append((index, size, leaf, flipped, root))
    if len(proof) > 1:
        probes.append((index, size, leaf, [proof[0], SOME_HASH, *proof[1:]], root))
    for i, size_, leaf_, proof_, root_ in probes:
        assert not verify.verify_inclusion(leaf_, i, size_, proof_, root_)


@pytest.mark.parametrize(("first", "second", "proof"), CONSISTENCY)
def test_reference_consistency_proofs_verify_and_we_build_the_same(first: int, second: int,
                                                                     proof: list[bytes]) -> None:
    assert verify.verify_consistency(first, second, proof, ROOTS[first - 1], ROOTS[second - 1])
    assert builder_for(LEAVES).consistency(first, second) == proof


@pytest.mark.parametrize(("first", "second", "proof"), [c for c in CONSISTENCY if c[2]])
def test_broken_variants_of_reference_consistency_proofs_fail(first: int, second: int, proof: list[bytes]) -> None:
    r1, r2 = ROOTS[first - 1], ROOTS[second - 1]
    probes = [
        (first - 1, second, r1, r2, proof), (first + 1, second, r1, r2, proof), (first ^ 2, second, r1, r2, proof),
        (first, second * 2, r1, r2, proof), (first, second // 2, r1, r2, proof),
        (first, second, b"WrongRoot", r2, proof), (first, second, r1, b"WrongRoot", proof),
        (first, second, r2, r1, proof), (first, second, r1, r2, []),
        (first, second, r1, r2, [*proof, b""]), (first, second, r1, r2, [*proof, r1]),
        (first, second, r1, r2, [*proof, r2]), (first, second, r1, r2, [b"", *proof]),
        (first, second, r1, r2, [r1, *proof]), (first, second, r1, r2, [r2, *proof]),
        (first, second, r1, r2, [proof[0], *proof]), (first, second, r1, r2, proof[:-1]),
    ]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([proof[i][0] ^ 16]) + proof[i][1:]
        probes.append((first, second, r1, r2, flipped))
    for f, s, a, b, p in probes:
        assert not verify.verify_consistency(f, s, p, a, b), (f, s)


def test_trivial_consistency_cases() -> None:
    assert verify.verify_consistency(3, 3, [], ROOTS[2], ROOTS[2])
    assert not verify.verify_consistency(3, 3, [], ROOTS[2], ROOTS[3])
    assert not verify.verify_consistency(3, 3, [EMPTY], ROOTS[2], ROOTS[2])
    assert not verify.verify_consistency(2, 1, [], ROOTS[1], ROOTS[0])
    assert not verify.verify_consistency(1, 2, [], ROOTS[0], ROOTS[1])



def test_a_consistency_proof_from_an_empty_tree_is_refused_even_when_empty() -> None:
    # RFC 9162 §2.1.4.1 defines no proof from size 0, and the reference verifier (transparency-dev/merkle)
    # refuses size1 = 0 whatever follows. An empty "proof" that passed would vouch for any second root.
    assert not verify.verify_consistency(0, 5, [], EMPTY, SOME_HASH)
    assert not verify.verify_consistency(0, 5, [], EMPTY, ROOTS[4])
    assert not verify.verify_consistency(0, 0, [], EMPTY, EMPTY)
    assert not verify.verify_consistency(0, 1, [ROOTS[0]], EMPTY, ROOTS[0])

trees = st.lists(st.binary(max_size=8), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(entries=trees, data=st.data())
def test_every_index_of_a_random_tree_proves_and_an_altered_proof_fails(entries: list[bytes],
                                                                        data: st.DataObject) -> None:
    size = data.draw(st.integers(1, len(entries)))
    index = data.draw(st.integers(0, size - 1))
    builder = builder_for(entries)
    root = verify.merkle_root(entries[:size])
    proof = builder.inclusion(index, size)
    leaf = verify.leaf_hash(entries[index])
    assert verify.verify_inclusion(leaf, index, size, proof, root)
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1))
        bad = list(proof)
        bad[i] = bytes([bad[i][0] ^ 1]) + bad[i][1:]
        assert not verify.verify_inclusion(leaf, index, size, bad, root)
    assert not verify.verify_inclusion(verify.leaf_hash(entries[index] + b"x"), index, size, proof, root)


@settings(max_examples=60, deadline=None)
@given(entries=trees, data=st.data())
def test_every_pair_of_sizes_is_consistent_and_an_altered_proof_fails(entries: list[bytes],
                                                                      data: st.DataObject) -> None:
    second = data.draw(st.integers(1, len(entries)))
    first = data.draw(st.integers(1, second))
    proof = builder_for(entries).consistency(first, second)
    r1, r2 = verify.merkle_root(entries[:first]), verify.merkle_root(entries[:second])
    assert verify.verify_consistency(first, second, proof, r1, r2)
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1))
        bad = list(proof)
        bad[i] = bytes([bad[i][0] ^ 1]) + bad[i][1:]
        assert not verify.verify_consistency(first, second, bad, r1, r2)


@given(st.integers(0, 2000), st.integers(1, 2000))
def test_a_range_splits_into_aligned_perfect_subtrees_that_cover_it(start: int, length: int) -> None:
    # Proof ranges always start at a multiple of their first subtree; ask only for those.
    start = start - start % (1 << (length.bit_length() - 1)) if start else 0
    covered = []
    for level, index in perfect_subtrees(start, start + length):
        assert (index << level) % (1 << level) == 0
        covered.extend(range(index << level, (index + 1) << level))
    assert covered == list(range(start, start + length))


def test_a_signed_tree_head_verifies_only_unchanged_and_under_its_key() -> None:
    private, public = signing.generate()
    head = {"tree_size": 8, "root_hash": ROOTS[7].hex(), "timestamp": 1764028800000}
    head["signature"] = signing.sign(private, verify.tree_head_message(8, ROOTS[7], 1764028800000)).hex()
    assert verify.verify_tree_head(head, public)
    assert not verify.verify_tree_head({**head, "tree_size": 7}, public)
    assert not verify.verify_tree_head({**head, "root_hash": ROOTS[6].hex()}, public)
    assert not verify.verify_tree_head({**head, "timestamp": 1764028800001}, public)
    assert not verify.verify_tree_head(head, signing.generate()[1])
    assert not verify.verify_tree_head({"tree_size": "x"}, public)


def test_the_verifier_stands_alone() -> None:
    source = Path(verify.__file__).read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    # The standard library and pyca/cryptography, nothing else: not even parcelguard itself.
    assert imported <= set(sys.stdlib_module_names) | {"__future__", "cryptography"}, imported
