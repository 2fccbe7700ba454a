"""Building RFC 9162 proofs from stored subtree hashes.

The log stores the hash of every *perfect* subtree (2^level leaves starting at a multiple of 2^level):
level 0 are the leaf hashes. Any range a proof needs is such a subtree or splits into them, so a
proof for a tree of n leaves reads O(log n) stored hashes and never recomputes the tree.
Verification lives in `parcelguard.verify`, which stands alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from parcelguard.verify import empty_root, largest_power_of_two_below, node_hash

# (level, index) -> hash of leaves [index * 2**level, (index + 1) * 2**level)
NodeReader = Callable[[list[tuple[int, int]]], dict[tuple[int, int], bytes]]


def perfect_subtrees(start: int, end: int) -> list[tuple[int, int]]:
    """The perfect subtrees (level, index) that make up the range [start, end), left to right,
    as RFC 9162's split produces them (start must be aligned, as every range in a proof is)."""
    out = []
    while start < end:
        size = end - start
        level = size.bit_length() - 1  # the largest power of two that fits
        while start % (1 << level):
            level -= 1
        out.append((level, start >> level))
        start += 1 << level
    return out


def fold(hashes: list[bytes]) -> bytes:
    """MTH of a range from its perfect subtrees, left to right: right-to-left folding."""
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


class ProofBuilder:
    """Collects the ranges a proof needs, reads their subtree hashes in one go, then answers."""

    def __init__(self, read: NodeReader) -> None:
        self._read = read

    def ranges_hash(self, ranges: list[tuple[int, int]]) -> list[bytes]:
        wanted = {node for start, end in ranges for node in perfect_subtrees(start, end)}
        nodes = self._read(sorted(wanted))
        return [fold([nodes[n] for n in perfect_subtrees(start, end)]) for start, end in ranges]

    def root(self, size: int) -> bytes:
        return empty_root() if size == 0 else self.ranges_hash([(0, size)])[0]

    def inclusion(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 §2.1.3.1 PATH(index, D[0:size])."""
        if not 0 <= index < size:
            raise ValueError("index outside the tree")
        return self.ranges_hash(list(inclusion_ranges(index, 0, size)))

    def inclusion_with_root(self, index: int, size: int) -> tuple[bytes, list[bytes], bytes]:
        """The leaf hash, PATH(index, D[0:size]) and the root, from a single read."""
        if not 0 <= index < size:
            raise ValueError("index outside the tree")
        ranges = list(inclusion_ranges(index, 0, size))
        *path, leaf, root = self.ranges_hash([*ranges, (index, index + 1), (0, size)])
        return leaf, path, root

    def consistency_with_roots(self, first: int, second: int) -> tuple[list[bytes], bytes, bytes]:
        """PROOF(first, D[0:second]) and both roots, from a single read."""
        if not 0 < first <= second:
            raise ValueError("sizes out of order")
        ranges = [] if first == second else list(consistency_ranges(first, 0, second, True))
        *proof, first_root, second_root = self.ranges_hash([*ranges, (0, first), (0, second)])
        return proof, first_root, second_root

    def consistency(self, first: int, second: int) -> list[bytes]:
        """RFC 9162 §2.1.4.1 PROOF(first, D[0:second])."""
        if not 0 < first <= second:
            raise ValueError("sizes out of order")
        if first == second:
            return []
        return self.ranges_hash(list(consistency_ranges(first, 0, second, True)))


def inclusion_ranges(m: int, start: int, end: int) -> Iterable[tuple[int, int]]:
    """The ranges whose hashes make PATH(m, D[start:end]), innermost first."""
    n = end - start
    if n <= 1:
        return []
    k = largest_power_of_two_below(n)
    if m < k:
        return [*inclusion_ranges(m, start, start + k), (start + k, end)]
    return [*inclusion_ranges(m - k, start + k, end), (start, start + k)]


def consistency_ranges(m: int, start: int, end: int, whole: bool) -> list[tuple[int, int]]:
    """The ranges whose hashes make SUBPROOF(m, D[start:end], whole)."""
    n = end - start
    if m == n:
        return [] if whole else [(start, end)]
    k = largest_power_of_two_below(n)
    if m <= k:
        return [*consistency_ranges(m, start, start + k, whole), (start + k, end)]
    return [*consistency_ranges(m - k, start + k, end, False), (start, start + k)]
