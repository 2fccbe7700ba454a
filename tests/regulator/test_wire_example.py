"""The worked example of docs/regulator.md is true: its batch and receipt parse, their signatures verify
with the keys the page lists, and its sealed record opens to the payload it shows. A third party checks
an implementation against that page; this test keeps the page honest."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from parcelguard.crypto import sealing, signing
from parcelguard.regulator import protocol

PAGE = (Path(__file__).resolve().parents[2] / "docs" / "regulator.md").read_text(encoding="utf-8")
EXAMPLE = PAGE[PAGE.index("## The wire format: a worked example"):]


def key(label: str) -> bytes:
    row = next(line for line in EXAMPLE.splitlines() if line.startswith(f"| {label}"))
    return base64.b64decode(re.findall(r"`([A-Za-z0-9+/=]{44})`", row)[0])


def blocks() -> list[str]:
    return re.findall(r"```json\n(.*?)\n```", EXAMPLE, flags=re.DOTALL)


def test_the_documented_batch_verifies_and_its_record_opens() -> None:
    batch_wire, payload, receipt_wire = (json.loads(b) for b in blocks())
    batch, signature = protocol.parse_batch(batch_wire)
    carrier_key = key("the carrier's Ed25519 batch key")
    assert batch.key_id == signing.key_id(carrier_key)
    protocol.verify_batch(batch, signature, carrier_key)
    assert len(protocol.BATCH_DOMAIN + protocol.canonical(batch.body())) == int(
        re.search(r"over (\d+) bytes", EXAMPLE).group(1))
    [record] = batch.records
    opened = sealing.open_sealed(key("the regulator's X25519 sealing key, private"), record.sealed,
                                 record.seal_context.encode())
    assert json.loads(opened) == payload
    receipt, receipt_signature = protocol.parse_receipt(receipt_wire)
    receipt_key = key("the regulator's Ed25519 receipt key")
    protocol.verify_receipt(receipt, receipt_signature, {signing.key_id(receipt_key): receipt_key})
    assert (receipt.batch_id, receipt.accepted) == (batch.batch_id, (record.record_id,))


def test_the_documented_batch_fails_once_a_byte_changes() -> None:
    batch_wire = json.loads(blocks()[0])
    batch_wire["records"][0]["waybill_no"] = "DE4718220365918"
    batch, signature = protocol.parse_batch(batch_wire)
    with pytest.raises(protocol.ProtocolError) as caught:
        protocol.verify_batch(batch, signature, key("the carrier's Ed25519 batch key"))
    assert caught.value.code == "batch_signature"
