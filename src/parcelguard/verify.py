"""Verify a parcelguard audit log without trusting the carrier that keeps it.

This module imports only the Python standard library and `cryptography`, so a regulator can copy
it alone. The log is a Merkle tree as RFC 9162 (Certificate Transparency v2) §2.1 defines it:

- leaf hash: SHA-256(0x00 || entry), entry = the canonical JSON bytes of one log entry;
- node hash: SHA-256(0x01 || left || right);
- the tree head a carrier signs (Ed25519, its audit-log key) is the canonical JSON of
  `{"root_hash": <hex>, "timestamp": <ms since epoch>, "tree_size": <int>}`: keys sorted,
  UTF-8, no spaces.

Indices are 0-based. Every `verify_*` function returns True or False and never raises on bad input.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

HASH_SIZE = 32


def leaf_hash(entry: bytes) -> bytes:
    """RFC 9162 §2.1.1: the hash of one leaf."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1: the hash of an interior node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def empty_root() -> bytes:
    return hashlib.sha256(b"").digest()


def largest_power_of_two_below(n: int) -> int:
    """k with k < n <= 2k (n > 1): where RFC 9162 splits a tree of n leaves."""
    return 1 << ((n - 1).bit_length() - 1)


def merkle_root(entries: Sequence[bytes]) -> bytes:
    """RFC 9162 §2.1.1 MTH over raw entries (not leaf hashes)."""
    return root_of_leaf_hashes([leaf_hash(e) for e in entries])


def root_of_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """MTH of a list of leaf hashes, iteratively: each level pairs from the left and carries an odd
    last node up unchanged, which gives the same tree as the RFC's recursive split."""
    if not hashes:
        return empty_root()
    level = list(hashes)
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def _sizes_ok(*hashes: bytes) -> bool:
    return all(isinstance(h, bytes | bytearray) and len(h) == HASH_SIZE for h in hashes)


def root_from_inclusion_proof(index: int, tree_size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes | None:
    """RFC 9162 §2.1.3.2, steps 1-4: the root the proof leads to, or None if it cannot be one."""
    if not (0 <= index < tree_size) or not _sizes_ok(leaf, *proof):
        return None
    fn, sn, r = index, tree_size - 1, bytes(leaf)
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """Does `proof` show that the leaf hash `leaf` is at `index` in the tree of `tree_size` with `root`?"""
    return _sizes_ok(root) and root_from_inclusion_proof(index, tree_size, leaf, proof) == root


def verify_consistency(first_size: int, second_size: int, proof: Sequence[bytes], first_root: bytes,
                       second_root: bytes) -> bool:
    """RFC 9162 §2.1.4.2: is the tree of `second_size` an append-only extension of `first_size`?"""
    if not (0 <= first_size <= second_size) or not _sizes_ok(*proof):
        return False
    if first_size == second_size:
        return not proof and first_root == second_root
    if first_size == 0:
        return not proof  # the empty tree is a prefix of every tree
    if not proof or not _sizes_ok(first_root, second_root):
        return False
    path = list(proof)
    if first_size & (first_size - 1) == 0:  # an exact power of two
        path.insert(0, bytes(first_root))
    fn, sn = first_size - 1, second_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


def tree_head_message(tree_size: int, root_hash: bytes, timestamp: int) -> bytes:
    """The exact bytes a carrier signs for a tree head."""
    body = {"root_hash": root_hash.hex(), "timestamp": timestamp, "tree_size": tree_size}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def verify_tree_head(head: dict, public_key: bytes) -> bool:
    """Is `head` ({tree_size, root_hash, timestamp, signature, ...}, hashes in hex) signed by `public_key`?"""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        message = tree_head_message(int(head["tree_size"]), bytes.fromhex(head["root_hash"]),
                                    int(head["timestamp"]))
        Ed25519PublicKey.from_public_bytes(public_key).verify(bytes.fromhex(head["signature"]), message)
    except (InvalidSignature, KeyError, TypeError, ValueError):
        return False
    return len(bytes.fromhex(head["root_hash"])) == HASH_SIZE


__all__ = [
    "leaf_hash", "node_hash", "empty_root", "merkle_root", "root_of_leaf_hashes", "verify_inclusion",
    "verify_consistency", "root_from_inclusion_proof", "tree_head_message", "verify_tree_head",
]
