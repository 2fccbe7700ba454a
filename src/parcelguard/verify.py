"""Verify a parcelguard audit log without trusting the carrier that keeps it.

This module imports only the Python standard library and `cryptography`, so a regulator can copy
it alone. The log is a Merkle tree as RFC 9162 (Certificate Transparency v2) §2.1 defines it:

- leaf hash: SHA-256(0x00 || entry), entry = the canonical JSON bytes of one log entry;
- node hash: SHA-256(0x01 || left || right);
- the tree head a carrier signs (Ed25519, its audit-log key) is the canonical JSON of
  `{"root_hash": <hex>, "timestamp": <ms since epoch>, "tree_size": <int>}`: keys sorted,
  UTF-8, no spaces.

Indices are 0-based. Every `verify_*` function returns True or False and never raises on bad input.
`verify_inclusion` and `verify_consistency` give the answers of the transparency-dev/merkle reference
verifier (`proof/verify.go`) on every one of its published vectors, the broken variants included
(tests/audit/test_merkle_vectors.py). Beyond them ours is stricter in one way only: a leaf, proof or
root hash that has to be hashed or chained and is not 32 bytes is refused up front, where the reference
lets the final root comparison fail (or, from a first tree of a power-of-two size, chains from it).
There is no consistency proof from the empty tree: RFC 9162 §2.1.4.1 defines PROOF(m, D_n) for
0 < m < n (m = n: the empty proof), so a first size of 0 is refused whatever the proof and the roots,
0 to 0 included, as the reference refuses it.

`verify_log` checks a whole log streamed as the records of `parcelguard audit export` and returns a
report naming the first bad index or tree head (it raises only when the records are not an export);
`python -m parcelguard.verify FILE --public-key HEX` (or `python verify.py ...` on a copy of this file)
runs it from the command line.
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import json
import sys
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeGuard

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
    """RFC 9162 §2.1.4.2: is the tree of `second_size` an append-only extension of `first_size`?

    Needs 0 < first_size <= second_size. From size 0 there is nothing to prove (the empty tree is a prefix
    of every tree) and no proof is defined, so the answer is False, as the reference verifier answers: a
    True there would vouch for `second_root` without looking at it. Check a first signed head on its own.
    """
    if not (0 < first_size <= second_size) or not _sizes_ok(*proof):
        return False
    if first_size == second_size:
        return not proof and first_root == second_root
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


# -- a whole log, streamed ------------------------------------------------------------------------
#
# The records are the JSON lines of `parcelguard audit export` (docs/security.md): one header
# {"type": "log", "carrier", "size", "public_keys"}, the signed tree heads {"type": "head", ...}, then
# the entries {"type": "entry", "index", "entry", "leaf_hash"} in index order. The checker keeps the
# tree's compact range (one hash per set bit of the size) and the heads it has not reached yet, so its
# memory grows with log2(size) and the number of heads, never with the number of entries.

class LogFormatError(ValueError):
    """The records are not an audit log export at all (no header): nothing was verified."""


@dataclass(frozen=True)
class Bad:
    """The first thing wrong in a log: an entry (`kind` "index") or a signed tree head ("tree head")."""

    kind: str
    at: int | None
    reason: str

    def __str__(self) -> str:
        return f"bad {self.kind} {'?' if self.at is None else self.at}: {self.reason}"


@dataclass(frozen=True)
class CheckedHead:
    """A tree head whose signature verified and whose root is the root of the entries."""

    tree_size: int
    root_hash: bytes
    timestamp: int
    key_id: int


@dataclass(frozen=True)
class LogReport:
    carrier: str
    size: int  # entries read (up to the first failure)
    root: bytes  # the root recomputed from them
    heads: tuple[CheckedHead, ...]  # by size
    bad: Bad | None = None
    notes: tuple[str, ...] = ()  # what the result does not prove; for stderr

    @property
    def ok(self) -> bool:
        return self.bad is None

    def line(self) -> str:
        """`ok <size> <root hex>`, or the first failure: `bad index <i>: ...` / `bad tree head <size>: ...`."""
        return str(self.bad) if self.bad is not None else f"ok {self.size} {self.root.hex()}"


def verify_log(records: Iterable[dict[str, Any]], public_keys: Mapping[int, bytes], *,
               any_id_keys: Sequence[bytes] = (), trust_file_keys: bool = False) -> LogReport:
    """Recompute the log's tree from `records` and check every entry and signed tree head; report the first
    failure by position.

    `public_keys` (key id -> raw Ed25519 key) are the keys trusted for the heads; `any_id_keys` are trusted
    whatever key id a head names. With `trust_file_keys` the header's own keys are used as well, which
    proves that the log is intact, not that the carrier signed it (the report's notes say so).
    """
    return _LogChecker(public_keys, any_id_keys, trust_file_keys).run(records)


def read_records(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """Parse export lines; a line that is not a JSON object becomes a record the checker reports."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            record = None
        if not isinstance(record, dict):
            record = {"type": None, "error": f"line {number} is not a JSON object"}
        yield record


def parse_public_keys(values: Iterable[str]) -> tuple[dict[int, bytes], list[bytes]]:
    """`KEYID=HEX` (a key for that key id) or `HEX` (a key for any key id) -> (keys by id, keys for any id)."""
    by_id: dict[int, bytes] = {}
    any_id: list[bytes] = []
    for value in values:
        key_id, _, hex_key = value.rpartition("=")
        try:
            key = bytes.fromhex(hex_key.strip())
            if len(key) != 32:
                raise ValueError
            if key_id:
                by_id[int(key_id)] = key
            else:
                any_id.append(key)
        except ValueError:
            raise ValueError(f"not a public key: {value!r} (want HEX or KEYID=HEX, 32 bytes)") from None
    return by_id, any_id


def canonical_entry(body: object) -> bytes:
    """The canonical JSON the carrier hashes: sorted keys, no spaces, UTF-8 (not ASCII-escaped)."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class _Head:
    tree_size: int
    timestamp: int
    document: dict[str, Any]
    problem: str | None  # a malformed head: reported when the stream reaches its size


class _Stop(Exception):
    def __init__(self, bad: Bad) -> None:
        self.bad = bad


@dataclass
class _LogChecker:
    public_keys: Mapping[int, bytes]
    any_id_keys: Sequence[bytes]
    trust_file_keys: bool
    carrier: str = ""
    declared_size: int = 0
    count: int = 0
    stack: list[tuple[int, bytes]] = field(default_factory=list)  # compact range: (level, hash), left to right
    pending: list[tuple[int, int, int, _Head]] = field(default_factory=list)  # heap by (size, timestamp)
    good: list[CheckedHead] = field(default_factory=list)
    suspect: tuple[int, int] | None = None  # (size, last good size): a signed root that disagrees, unresolved
    ts_floor: int | None = None  # the latest timestamp among heads of smaller size than `ts_size`
    ts_here: int | None = None
    ts_size: int = -1
    notes: list[str] = field(default_factory=list)
    keys: dict[int, bytes] = field(default_factory=dict)
    seen_heads: set[tuple[Any, ...]] = field(default_factory=set)
    _root: bytes | None = None

    def run(self, records: Iterable[dict[str, Any]]) -> LogReport:
        it = iter(records)
        self._header(next(it, None))
        try:
            for number, record in enumerate(it, 2):
                kind = record.get("type")
                if kind == "entry":
                    self._entry(record)
                elif kind == "head":
                    self._arrived(self._parse_head(record))
                else:
                    why = record.get("error") if kind is None else None
                    self._fail(Bad("index", self.count, why or f"record {number} is not an entry or a tree head"))
            self._finish()
        except _Stop as stop:
            return self._report(stop.bad)
        return self._report(None)

    def _report(self, bad: Bad | None) -> LogReport:
        return LogReport(carrier=self.carrier, size=self.count, root=self.root(), heads=tuple(self.good), bad=bad,
                         notes=tuple(self.notes))

    # -- header, entries, heads -------------------------------------------------------------------

    def _header(self, record: dict[str, Any] | None) -> None:
        if not isinstance(record, dict) or record.get("type") != "log":
            raise LogFormatError("the first record is not a log header ({\"type\": \"log\", ...})")
        carrier, size, keys = record.get("carrier"), record.get("size"), record.get("public_keys", {})
        if not isinstance(carrier, str) or not _is_int(size) or size < 0 or not isinstance(keys, dict):
            raise LogFormatError("the log header needs carrier, size and public_keys")
        self.carrier, self.declared_size = carrier, size
        self.keys = dict(self.public_keys)
        if self.trust_file_keys:
            try:
                file_keys = {int(k): bytes.fromhex(v) for k, v in keys.items()}
            except (TypeError, ValueError):
                raise LogFormatError("the log header's public_keys are not KEYID: HEX") from None
            self.keys = {**file_keys, **self.keys}
            self.notes.append("the tree heads were checked with the public keys inside the file: this proves the "
                              "log is intact, not that the carrier signed it (give the carrier's published key "
                              "with --public-key)")

    def _entry(self, record: dict[str, Any]) -> None:
        i = self.count
        index = record.get("index")
        damage = record.get("damage")  # what the exporter found stored with a wrong type
        if damage is not None and not _is_int(index):
            self._fail(Bad("index", i, str(damage)))
        if index != i or not _is_int(index):
            if _is_int(index) and index > i:
                self._fail(Bad("index", i, f"missing: the next entry in the log is {index}"))
            if _is_int(index):
                self._fail(Bad("index", i, f"out of order: entry {index} arrives at position {i}"))
            self._fail(Bad("index", i, "an entry record without an index"))
        if i >= self.declared_size:
            self._fail(Bad("index", i, f"beyond the log's size, {self.declared_size}"))
        if damage is not None:
            self._fail(Bad("index", i, str(damage)))
        text = record.get("entry")
        if not isinstance(text, str):
            self._fail(Bad("index", i, "an entry record without the entry"))
        raw = text.encode("utf-8", "surrogateescape")
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            body = None
        if not isinstance(body, dict):
            self._fail(Bad("index", i, "the entry is not a JSON object"))
        if body.get("index") != i or not _is_int(body.get("index")):
            self._fail(Bad("index", i, f"the entry says index {body.get('index')!r}: moved or swapped"))
        if body.get("carrier") != self.carrier:
            self._fail(Bad("index", i, f"the entry belongs to carrier {body.get('carrier')!r}"))
        try:
            canonical = canonical_entry(body) == raw
        except (ValueError, RecursionError):  # UnicodeEncodeError: a lone surrogate
            canonical = False
        if not canonical:
            self._fail(Bad("index", i, "the entry is not canonical JSON"))
        node = leaf_hash(raw)
        if "leaf_hash" in record and _unhex(record["leaf_hash"]) != node:
            stored_leaf = record["leaf_hash"]
            self._fail(Bad("index", i, "the log stores no leaf hash for this entry" if stored_leaf is None else
                           f"its stored leaf hash is {_stored_as(stored_leaf)}, not a hash" if _stored_as(stored_leaf)
                           else "the entry does not match its stored leaf hash: altered after it was logged"))
        stored = record.get("subtree_hashes")
        level = 0
        while self.stack and self.stack[-1][0] == level:  # the entry completes a perfect subtree
            _, left = self.stack.pop()
            level, node = level + 1, node_hash(left, node)
            if stored is not None and (not isinstance(stored, list) or len(stored) < level
                                       or _unhex(stored[level - 1]) != node):
                first = i + 1 - (1 << level)
                self._fail(Bad("index", first, f"the stored hash of entries [{first}, {i + 1}) is wrong or "
                               "missing: proofs served for them fail"))
        wrong = wrong_copy(body, record["stored"]) if "stored" in record else None
        if wrong is not None:
            self._fail(Bad("index", i, f"the stored copy of its {wrong} differs from the logged entry: edited "
                           "after it was logged (searches by it find the wrong entries)"))
        self.stack.append((level, node))
        self.count, self._root = i + 1, None
        while self.pending and self.pending[0][0] == self.count:
            self._check(heapq.heappop(self.pending)[3])

    def _parse_head(self, record: dict[str, Any]) -> _Head:
        size, ts = record.get("tree_size"), record.get("timestamp")
        row = f" (stored row {record['row']})" if _is_int(record.get("row")) else ""
        if not _is_int(size) or size < 0:
            self._fail(Bad("tree head", None, f"a tree head{row} without a valid tree_size ({size!r})"))
        ok = (_is_int(ts) and _is_int(record.get("key_id")) and _unhex(record.get("root_hash")) is not None
              and isinstance(record.get("signature"), str))
        problem = None if ok else f"a malformed tree head{row}"
        seen = (size, ts, str(record.get("root_hash")).lower(), str(record.get("signature")).lower())
        if problem is None and seen in self.seen_heads:
            problem = f"stored twice{row}: a tree head is signed once, so the second row is a copy"
        self.seen_heads.add(seen)
        return _Head(size, ts if _is_int(ts) else 0, record, problem)

    def _arrived(self, head: _Head) -> None:
        if head.tree_size < self.count:
            self._fail(Bad("tree head", head.tree_size, f"arrives after entry {self.count - 1}: a tree head must "
                           "come before the entries it covers"))
        if head.tree_size == self.count:
            self._check(head)
        else:
            heapq.heappush(self.pending, (head.tree_size, head.timestamp, id(head), head))

    def _signed(self, head: _Head) -> None:
        """Fail unless `head` is well formed and signed by a trusted key."""
        size, doc = head.tree_size, head.document
        if head.problem:
            self._fail(Bad("tree head", size, head.problem))
        key = self.keys.get(doc["key_id"])
        candidates = [key] if key is not None else list(self.any_id_keys)
        if not candidates:
            self._fail(Bad("tree head", size, f"signed with key {doc['key_id']}, which is not a trusted key"))
        if not any(verify_tree_head(doc, k) for k in candidates):
            self._fail(Bad("tree head", size, f"the signature does not verify with key {doc['key_id']}"))

    def _check(self, head: _Head) -> None:
        """Check a head once the stream holds exactly `tree_size` entries."""
        size = head.tree_size
        self._signed(head)
        last_good = self.good[-1].tree_size if self.good else 0
        if bytes.fromhex(head.document["root_hash"]) != self.root():
            if last_good == size:  # no entry between this head and the last good one: the head is wrong
                also = ", but that of another head of this size is" if self.good else ""
                raise _Stop(Bad("tree head", size, f"its root_hash is not the root of the first {size} "
                                f"entries{also}: forged"))
            if self.suspect is None:  # the entries or this head: a later head that agrees will tell
                self.suspect = (size, last_good)
            return
        if self.suspect is not None:  # this head vouches for the entries the suspect head disagrees with
            bad_size = self.suspect[0]
            raise _Stop(Bad("tree head", bad_size, f"its root_hash is not the root of the first {bad_size} "
                            f"entries, but that of tree head {size} is: the heads are inconsistent (this one is "
                            "forged, or the entries were rewritten after it was signed)"))
        # Time runs forward along the heads that agree with the entries (heads of one size may come in any order).
        if size > self.ts_size:
            self.ts_floor = self.ts_here if self.ts_here is not None else self.ts_floor
            self.ts_size, self.ts_here = size, None
        if self.ts_floor is not None and head.timestamp < self.ts_floor:
            self._fail(Bad("tree head", size, f"its timestamp {head.timestamp} is earlier than that of a head of "
                           f"a smaller tree ({self.ts_floor})"))
        self.ts_here = head.timestamp if self.ts_here is None else max(self.ts_here, head.timestamp)
        self.good.append(CheckedHead(size, self.root(), head.timestamp, head.document["key_id"]))

    def _finish(self) -> None:
        if self.count < self.declared_size:
            self._fail(Bad("index", self.count, f"missing: the log's size is {self.declared_size}"))
        while self.pending:
            head = heapq.heappop(self.pending)[3]
            self._signed(head)
            self._fail(Bad("index", self.count, f"missing: signed tree head {head.tree_size} covers "
                           f"{head.tree_size} entries, the log has {self.count}"))
        self._resolve()
        covered = self.good[-1].tree_size if self.good else 0
        if covered < self.count:
            self.notes.append(f"entries [{covered}, {self.count}) are not covered by a signed tree head yet: "
                              "they are checked against their stored hashes only")

    def _fail(self, bad: Bad) -> NoReturn:
        """Stop at the first failure by position: an unresolved disagreeing head comes before anything later."""
        self._resolve()
        raise _Stop(bad)

    def _resolve(self) -> None:
        """No later head agreed with the entries a signed head disagrees with: blame the entries it covers."""
        if self.suspect is not None:
            size, last_good = self.suspect
            raise _Stop(Bad("index", last_good, f"the entries [{last_good}, {size}) do not match signed tree head "
                            f"{size}: one of them was altered, removed or inserted (or that head is forged)"))

    def root(self) -> bytes:
        """MTH of the entries so far, from the compact range: fold right to left (RFC 9162 §2.1.1)."""
        if self._root is None:
            if not self.stack:
                self._root = empty_root()
            else:
                acc = self.stack[-1][1]
                for _, h in reversed(self.stack[:-1]):
                    acc = node_hash(h, acc)
                self._root = acc
        return self._root


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def is_index(value: object) -> TypeGuard[int]:
    """A log index or tree size as stored: a non-negative integer (not a bool, a float or text)."""
    return _is_int(value) and value >= 0


def _stored_as(value: object) -> str | None:
    """The type an exporter found a hash stored as (`{"stored_as": "text", ...}`), if it marked one."""
    return str(value.get("stored_as")) if isinstance(value, dict) else None


# The searchable copies of an entry's fields (columns beside the entry, for filtering): each must be the
# entry's own value. A database-only edit of a copy hides an entry from a search by it.
COPIED_FIELDS = ("time", "actor", "subject", "purpose", "decision")


def wrong_copy(body: dict[str, Any], copies: object) -> str | None:
    """The first copied field whose stored copy is not the entry's value, or None."""
    if not isinstance(copies, dict):
        return "searchable fields"
    for name in COPIED_FIELDS:
        stored, logged = copies.get(name), body.get(name)
        if name == "time":
            same = _instant(stored) is not None and _instant(stored) == _instant(logged)
        elif name == "actor":
            same = stored is None if not logged else _same_uuid(stored, logged)
        else:
            same = isinstance(stored, str) and stored == logged
        if not same:
            return name
    return None


def _instant(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _same_uuid(a: object, b: object) -> bool:
    try:
        return isinstance(a, str) and isinstance(b, str) and uuid.UUID(a) == uuid.UUID(b)
    except ValueError:
        return False


def _unhex(value: object) -> bytes | None:
    if not isinstance(value, str):
        return None
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        return None
    return raw if len(raw) == HASH_SIZE else None


# -- command line ---------------------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    """`python -m parcelguard.verify FILE --public-key [KEYID=]HEX`: 0 and `ok <size> <root>`, or 1."""
    parser = argparse.ArgumentParser(
        prog="python -m parcelguard.verify",
        description="Verify a parcelguard audit log export (JSON lines from `parcelguard audit export`): "
                    "recompute its Merkle tree, check every entry and every signed tree head.")
    parser.add_argument("file", help="the export; - reads standard input")
    parser.add_argument("--public-key", action="append", default=[], metavar="[KEYID=]HEX",
                        help="the carrier's published Ed25519 audit-log key (repeat for older keys); without "
                             "one, the keys inside the file are used, which proves integrity, not authorship")
    args = parser.parse_args(argv)
    try:
        by_id, any_id = parse_public_keys(args.public_key)
    except ValueError as exc:
        parser.error(str(exc))
    trust_file_keys = not args.public_key
    try:
        if args.file == "-":
            report = verify_log(read_records(sys.stdin), by_id, any_id_keys=any_id, trust_file_keys=trust_file_keys)
        else:
            with open(args.file, encoding="utf-8", errors="surrogateescape") as fh:
                report = verify_log(read_records(fh), by_id, any_id_keys=any_id, trust_file_keys=trust_file_keys)
    except OSError as exc:
        print(f"verify: {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except LogFormatError as exc:
        print(f"verify: {args.file}: not an audit log export: {exc}", file=sys.stderr)
        return 1
    for note in report.notes:
        print(f"verify: note: {note}", file=sys.stderr)
    print(report.line())
    return 0 if report.ok else 1


__all__ = [
    "COPIED_FIELDS",
    "Bad",
    "CheckedHead",
    "LogFormatError",
    "LogReport",
    "canonical_entry",
    "empty_root",
    "is_index",
    "leaf_hash",
    "main",
    "merkle_root",
    "node_hash",
    "parse_public_keys",
    "read_records",
    "root_from_inclusion_proof",
    "root_of_leaf_hashes",
    "tree_head_message",
    "verify_consistency",
    "verify_inclusion",
    "verify_log",
    "verify_tree_head",
    "wrong_copy",
]


if __name__ == "__main__":
    sys.exit(main())
