"""The whole-log checker (`verify.verify_log`) on logs built in memory: an honest log verifies, and any one
altered, deleted or swapped entry or altered tree head is reported at the right index or size."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
import tracemalloc
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parcelguard import verify
from parcelguard.crypto import signing

PRIVATE, PUBLIC = signing.generate()
KEY_ID = 4242
KEYS = {KEY_ID: PUBLIC}
T0 = 1_764_028_800_000


def sign_head(size: int, root: bytes, timestamp: int, private: bytes = PRIVATE, key_id: int = KEY_ID) -> dict:
    return {"type": "head", "tree_size": size, "root_hash": root.hex(), "timestamp": timestamp,
            "signature": signing.sign(private, verify.tree_head_message(size, root, timestamp)).hex(),
            "key_id": key_id}


@dataclass
class Log:
    """A log as `parcelguard audit export` writes it: header, heads, entries."""

    carrier: str
    entries: list[bytes]
    heads: list[dict]
    leaf_hashes: bool = True
    extra: list[dict] = field(default_factory=list)

    @classmethod
    def build(cls, payloads: list[str], head_sizes: list[int], *, leaf_hashes: bool = True) -> Log:
        carrier = str(uuid.uuid4())
        entries = [verify.canonical_entry({"index": i, "carrier": carrier, "purpose": "delivery", "subject": p})
                   for i, p in enumerate(payloads)]
        heads = [sign_head(size, verify.merkle_root(entries[:size]), T0 + 10 * size + n)
                 for n, size in enumerate(head_sizes)]
        return cls(carrier, entries, heads, leaf_hashes)

    def header(self) -> dict:
        return {"type": "log", "carrier": self.carrier, "size": len(self.entries),
                "public_keys": {str(KEY_ID): PUBLIC.hex()}}

    def entry_records(self) -> list[dict]:
        records = []
        for i, raw in enumerate(self.entries):
            record = {"type": "entry", "index": i, "entry": raw.decode()}
            if self.leaf_hashes:
                record["leaf_hash"] = verify.leaf_hash(raw).hex()
            records.append(record)
        return records

    def records(self) -> list[dict]:
        return [self.header(), *self.heads, *self.entry_records()]

    def root(self) -> str:
        return verify.merkle_root(self.entries).hex()


def as_lines(records: list[dict]) -> list[str]:
    """Through the file format and back: ASCII JSON lines."""
    return [json.dumps(r, separators=(",", ":")) + "\n" for r in records]


def check(records: list[dict], **kwargs: object) -> verify.LogReport:
    return verify.verify_log(verify.read_records(as_lines(records)), KEYS, **kwargs)  # type: ignore[arg-type]


def altered(raw: bytes) -> bytes:
    body = json.loads(raw)
    body["purpose"] = "curiosity"
    return verify.canonical_entry(body)


@st.composite
def logs(draw: st.DrawFn, min_size: int = 1) -> Log:
    payloads = draw(st.lists(st.text(max_size=6), min_size=min_size, max_size=40))
    sizes = draw(st.lists(st.integers(0, len(payloads)), max_size=6))
    log = Log.build(payloads, sizes, leaf_hashes=draw(st.booleans()))
    log.heads = draw(st.permutations(log.heads))
    return log


# -- honest logs ----------------------------------------------------------------------------------

@settings(max_examples=80, deadline=None)
@given(log=logs(min_size=0))
def test_an_honest_log_verifies_and_reports_its_size_and_root(log: Log) -> None:
    report = check(log.records())
    assert report.line() == f"ok {len(log.entries)} {log.root()}"
    assert [h.tree_size for h in report.heads] == sorted(h["tree_size"] for h in log.heads)


def test_heads_may_come_after_the_entries_they_end_with() -> None:
    log = Log.build([str(i) for i in range(9)], [4, 9])
    records = [log.header(), log.heads[0], *log.entry_records(), log.heads[1]]
    assert check(records).line() == f"ok 9 {log.root()}"


def test_what_no_signed_head_covers_is_said_on_the_side() -> None:
    log = Log.build([str(i) for i in range(9)], [4])
    report = check(log.records())
    assert report.ok
    assert report.notes == (
        "entries [4, 9) are not covered by a signed tree head yet: they are checked against their stored hashes only",
    )


def test_non_ascii_entries_keep_their_exact_bytes_through_the_ascii_file() -> None:
    log = Log.build(["张三 寄件", "\u2028", "é\x00"], [3])
    lines = as_lines(log.records())
    assert all(line.isascii() for line in lines)
    assert check(log.records()).line() == f"ok 3 {log.root()}"


# -- altered, deleted, swapped entries ------------------------------------------------------------

@settings(max_examples=80, deadline=None)
@given(log=logs(), data=st.data())
def test_an_altered_entry_is_named_by_its_index_or_by_the_last_head_before_it(log: Log, data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(log.entries) - 1))
    records = log.records()
    position = 1 + len(log.heads) + i
    records[position]["entry"] = altered(log.entries[i]).decode()
    sizes = [h["tree_size"] for h in log.heads]
    report = check(records)
    if log.leaf_hashes:  # the stored leaf hash names it
        assert str(report.bad).startswith(f"bad index {i}: the entry does not match its stored leaf hash")
    elif any(size > i for size in sizes):  # a signed head covers it: blame starts after the last good head
        last_good = max([size for size in sizes if size <= i], default=0)
        assert str(report.bad).startswith(f"bad index {last_good}: the entries [{last_good}, ")
    else:  # nothing signed covers it: the recomputed root differs, which is all one can say
        assert report.ok and report.line() != f"ok {len(log.entries)} {log.root()}"


@settings(max_examples=60, deadline=None)
@given(log=logs(), data=st.data())
def test_a_deleted_entry_is_named_by_its_index(log: Log, data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(log.entries) - 1))
    records = log.records()
    del records[1 + len(log.heads) + i]
    assert str(check(records).bad).startswith(f"bad index {i}: missing")


@settings(max_examples=60, deadline=None)
@given(log=logs(min_size=2), data=st.data(), whole_records=st.booleans())
def test_two_swapped_entries_are_named_by_the_first(log: Log, data: st.DataObject, whole_records: bool) -> None:
    i = data.draw(st.integers(0, len(log.entries) - 2))
    j = data.draw(st.integers(i + 1, len(log.entries) - 1))
    records = log.records()
    a, b = 1 + len(log.heads) + i, 1 + len(log.heads) + j
    if whole_records:  # lines moved
        records[a], records[b] = records[b], records[a]
    else:  # entry bytes moved between two rows, the stored leaf hashes stay
        records[a]["entry"], records[b]["entry"] = records[b]["entry"], records[a]["entry"]
    assert check(records).line().startswith(f"bad index {i}: ")


def test_an_entry_of_another_carrier_or_not_canonical_is_named() -> None:
    log = Log.build(["a", "b", "c"], [3], leaf_hashes=False)
    foreign = log.records()
    stranger = {**json.loads(log.entries[1]), "carrier": str(uuid.uuid4())}
    foreign[3]["entry"] = verify.canonical_entry(stranger).decode()
    assert check(foreign).line().startswith("bad index 1: the entry belongs to carrier")
    spaced = log.records()
    spaced[4]["entry"] = json.dumps(json.loads(log.entries[2]))
    assert check(spaced).line() == "bad index 2: the entry is not canonical JSON"
    broken = as_lines(log.records())
    broken[3] = "{not json\n"
    assert verify.verify_log(verify.read_records(broken), KEYS).line() == "bad index 1: line 4 is not a JSON object"


def test_entries_beyond_or_short_of_the_logs_size_are_named() -> None:
    log = Log.build(["a", "b", "c"], [2])
    header = {**log.header(), "size": 2}
    assert check([header, *log.heads, *log.entry_records()]).line() == "bad index 2: beyond the log's size, 2"
    header = {**log.header(), "size": 4}
    assert check([header, *log.heads, *log.entry_records()]).line() == "bad index 3: missing: the log's size is 4"


# -- tree heads -----------------------------------------------------------------------------------

@settings(max_examples=80, deadline=None)
@given(log=logs(), data=st.data(),
       how=st.sampled_from(["signature", "tree_size", "timestamp", "root_hash", "key_id", "resigned"]))
def test_an_altered_tree_head_is_named_by_its_size(log: Log, data: st.DataObject, how: str) -> None:
    n = len(log.entries)
    if not log.heads:
        log.heads = [sign_head(n, verify.merkle_root(log.entries), T0 + 10 * n)]
    k = data.draw(st.integers(0, len(log.heads) - 1))
    head = dict(log.heads[k])
    size = head["tree_size"]
    if how == "signature":
        head["signature"] = bytes([bytes.fromhex(head["signature"])[0] ^ 1]).hex() + head["signature"][2:]
    elif how == "tree_size":
        size = head["tree_size"] = data.draw(st.integers(0, n + 3).filter(lambda s: s != head["tree_size"]))
    elif how == "timestamp":
        head["timestamp"] += 1
    elif how == "root_hash":
        head["root_hash"] = verify.merkle_root([b"forged"]).hex()
    elif how == "key_id":
        head["key_id"] = KEY_ID + 1
    else:  # signed by the carrier's own key, over a root that is not the log's
        head = sign_head(size, verify.merkle_root([b"forged"]), head["timestamp"])
    log.heads[k] = head
    others = [h["tree_size"] for n_, h in enumerate(log.heads) if n_ != k]
    line = check(log.records()).line()
    if how != "resigned" or any(s >= size for s in others):
        # the signature fails, or a later (or same-size) signed head agrees with the entries
        assert line.startswith(f"bad tree head {size}: "), line
    else:  # nothing later vouches for the entries: the range it covers past the last good head is blamed
        last_good = max([s for s in others if s <= size], default=0)
        expected = f"bad tree head {size}: " if last_good == size else f"bad index {last_good}: the entries"
        assert line.startswith(expected), line


def test_a_head_signed_by_another_key_is_bad_unless_that_key_is_trusted() -> None:
    other_private, other_public = signing.generate()
    log = Log.build(["a", "b"], [])
    log.heads = [sign_head(2, verify.merkle_root(log.entries), T0, other_private, key_id=7)]
    assert check(log.records()).line() == "bad tree head 2: signed with key 7, which is not a trusted key"
    wrong_key = check(log.records(), any_id_keys=[PUBLIC])
    assert wrong_key.line() == "bad tree head 2: the signature does not verify with key 7"
    assert check(log.records(), any_id_keys=[other_public]).ok
    assert verify.verify_log(log.records(), {7: other_public}).ok


def test_the_files_own_keys_are_used_only_when_asked_and_that_is_said() -> None:
    log = Log.build(["a", "b"], [2])
    assert not verify.verify_log(log.records(), {}).ok
    report = verify.verify_log(log.records(), {}, trust_file_keys=True)
    assert report.ok and "not that the carrier signed it" in report.notes[0]


def test_time_running_backwards_between_heads_is_named() -> None:
    log = Log.build(["a", "b", "c", "d"], [])
    log.heads = [sign_head(2, verify.merkle_root(log.entries[:2]), T0 + 50),
                 sign_head(4, verify.merkle_root(log.entries), T0 + 10)]
    assert check(log.records()).line().startswith("bad tree head 4: its timestamp")


def test_a_head_after_the_entries_it_covers_or_beyond_them_is_named() -> None:
    log = Log.build(["a", "b", "c"], [1, 3])
    records = [log.header(), log.heads[1], *log.entry_records(), log.heads[0]]
    assert check(records).line().startswith("bad tree head 1: arrives after entry 2")
    beyond = sign_head(5, verify.merkle_root([b"x"]), T0 + 100)
    assert check([*log.records(), beyond]).line() == (
        "bad index 3: missing: signed tree head 5 covers 5 entries, the log has 3")


def test_something_that_is_not_an_export_is_refused() -> None:
    with pytest.raises(verify.LogFormatError):
        verify.verify_log([{"type": "entry", "index": 0}], KEYS)
    with pytest.raises(verify.LogFormatError):
        verify.verify_log([], KEYS)


# -- memory, standing alone, command line ---------------------------------------------------------

def test_memory_does_not_grow_with_the_number_of_entries() -> None:
    carrier, n = str(uuid.uuid4()), 20_000

    def stream() -> Iterator[dict]:
        yield {"type": "log", "carrier": carrier, "size": n, "public_keys": {}}
        for i in range(n):
            raw = verify.canonical_entry({"index": i, "carrier": carrier, "subject": f"shipment:{i}"})
            yield {"type": "entry", "index": i, "entry": raw.decode(), "leaf_hash": verify.leaf_hash(raw).hex()}

    tracemalloc.start()
    try:
        report = verify.verify_log(stream(), {})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert report.ok and report.size == n
    assert peak < 200_000, peak  # 20,000 leaf hashes alone would be 1.3 MB


def test_the_verifier_imports_only_the_standard_library_and_cryptography() -> None:
    imported: set[str] = set()
    for node in ast.walk(ast.parse(Path(verify.__file__).read_text())):
        if isinstance(node, ast.Import):
            imported.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported - sys.stdlib_module_names <= {"cryptography"}, imported


def test_a_copy_of_verify_py_checks_an_export_on_its_own(tmp_path: Path) -> None:
    log = Log.build(["a", "b", "c"], [2, 3])
    export = tmp_path / "log.jsonl"
    export.write_text("".join(as_lines(log.records())))
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(verify.__file__, alone / "verify.py")
    run = subprocess.run([sys.executable, "-I", "verify.py", str(export), "--public-key", PUBLIC.hex()], cwd=alone,
                         capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout == f"ok 3 {log.root()}\n" and run.stderr == ""


def test_the_command_line_exit_codes_and_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = Log.build(["a", "b", "c"], [3])
    good, bad = tmp_path / "good.jsonl", tmp_path / "bad.jsonl"
    good.write_text("".join(as_lines(log.records())))
    records = log.records()
    records[-1]["entry"] = altered(log.entries[2]).decode()
    bad.write_text("".join(as_lines(records)))

    assert verify.main([str(good), "--public-key", f"{KEY_ID}={PUBLIC.hex()}"]) == 0
    assert capsys.readouterr().out == f"ok 3 {log.root()}\n"
    assert verify.main([str(bad), "--public-key", PUBLIC.hex()]) == 1
    assert capsys.readouterr().out.startswith("bad index 2: ")
    assert verify.main([str(good)]) == 0
    assert "not that the carrier signed it" in capsys.readouterr().err
    assert verify.main([str(tmp_path / "missing.jsonl"), "--public-key", PUBLIC.hex()]) == 1
    assert "No such file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        verify.main([str(good), "--public-key", "12=zz"])
    assert usage.value.code == 2


def test_public_keys_parse_with_and_without_a_key_id() -> None:
    assert verify.parse_public_keys([f"5={PUBLIC.hex()}", PUBLIC.hex()]) == ({5: PUBLIC}, [PUBLIC])
    for wrong in ("abc", "5=" + "00" * 31, "x=" + PUBLIC.hex()):
        with pytest.raises(ValueError):
            verify.parse_public_keys([wrong])
