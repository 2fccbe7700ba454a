"""The standalone verifier agrees with the transparency-dev/merkle reference verifier on all its vectors.

Every JSON file under vectors/transparency-dev/ (the reference's testdata/inclusion and testdata/consistency,
happy paths and broken variants; see the README there) is one test: `verify_inclusion` or
`verify_consistency` must accept it exactly when the reference's `wantErr` is false. We disagree on none of
them. Where we are stricter than the reference off its vectors (a root that is not a 32-byte hash), the last
test here shows it; verify.py's docstring says why.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from parcelguard import verify
from tests.audit.test_verify import LEAVES, builder_for

VECTORS = Path(__file__).parent / "vectors" / "transparency-dev"


def load(kind: str) -> list[Any]:
    files = sorted((VECTORS / kind).rglob("*.json"))
    return [pytest.param(json.loads(f.read_text()), id=str(f.relative_to(VECTORS).with_suffix("")))
            for f in files]


INCLUSION = load("inclusion")
CONSISTENCY = load("consistency")


def b64(value: str | None) -> bytes:
    """Go's encoding/json writes a []byte as standard base64; a missing one is null or ""."""
    return base64.b64decode(value or "", validate=True)


def hashes(values: list[str] | None) -> list[bytes]:
    return [b64(v) for v in values or []]  # a null proof is the empty proof


def test_every_reference_vector_is_here() -> None:
    # 98 + 98 at the commit the README names; a file lost in a copy would otherwise pass unnoticed.
    assert (len(INCLUSION), len(CONSISTENCY)) == (98, 98)
    assert sum(not p.values[0]["wantErr"] for p in INCLUSION + CONSISTENCY) > 0
    assert sum(p.values[0]["wantErr"] for p in INCLUSION + CONSISTENCY) > 0


@pytest.mark.parametrize("probe", INCLUSION)
def test_inclusion_agrees_with_the_reference_verifier(probe: dict[str, Any]) -> None:
    accepted = verify.verify_inclusion(b64(probe["leafHash"]), probe["leafIdx"], probe["treeSize"],
                                       hashes(probe["proof"]), b64(probe["root"]))
    assert accepted is not probe["wantErr"], probe["desc"]


@pytest.mark.parametrize("probe", CONSISTENCY)
def test_consistency_agrees_with_the_reference_verifier(probe: dict[str, Any]) -> None:
    accepted = verify.verify_consistency(probe["size1"], probe["size2"], hashes(probe["proof"]),
                                         b64(probe["root1"]), b64(probe["root2"]))
    assert accepted is not probe["wantErr"], probe["desc"]


HAPPY_INCLUSION = [p for p in INCLUSION if p.id.endswith("/happy-path")]
HAPPY_CONSISTENCY = [p for p in CONSISTENCY if p.id.endswith("/happy-path")]


@pytest.mark.parametrize("probe", HAPPY_INCLUSION)
def test_we_build_the_reference_inclusion_proofs(probe: dict[str, Any]) -> None:
    # The happy paths are proofs in RFC 6962's reference tree (tests/audit/test_verify.py LEAVES).
    index, size = probe["leafIdx"], probe["treeSize"]
    assert b64(probe["root"]) == verify.merkle_root(LEAVES[:size])
    assert b64(probe["leafHash"]) == verify.leaf_hash(LEAVES[index])
    assert builder_for(LEAVES).inclusion(index, size) == hashes(probe["proof"])


@pytest.mark.parametrize("probe", HAPPY_CONSISTENCY)
def test_we_build_the_reference_consistency_proofs(probe: dict[str, Any]) -> None:
    first, second = probe["size1"], probe["size2"]
    assert (b64(probe["root1"]), b64(probe["root2"])) == (verify.merkle_root(LEAVES[:first]),
                                                         verify.merkle_root(LEAVES[:second]))
    assert builder_for(LEAVES).consistency(first, second) == hashes(probe["proof"])


def test_a_root_that_is_not_a_hash_is_refused_where_the_reference_would_chain_from_it() -> None:
    # From a tree of a power-of-two size the reference starts its chain at root1 without comparing it,
    # so it accepts this 5-byte "root"; no 32-byte root hashes to root2 here, and we refuse it.
    leaf1 = verify.leaf_hash(LEAVES[1])
    assert not verify.verify_consistency(1, 2, [leaf1], b"short", verify.node_hash(b"short", leaf1))
