"""`parcelguard id check` as an operator runs it: a real process, real exit codes, and never the number."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from parcelguard.identity.documents import DocType

SAMPLE = "11010519491231002X"  # GB 11643-1999's sample number
HUAWEI_USCC = "914403001922038216"


def id_check(*args: str, tmp_path: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    # No key and no database: the check runs with no configuration at all.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARCELGUARD_")}
    env.update(PARCELGUARD_VAR_DIR=str(tmp_path / "var"), COLUMNS="200", PYTHONIOENCODING="utf-8")
    return subprocess.run([sys.executable, "-m", "parcelguard", "id", "check", *args], check=False, env=env,
                          input=stdin, capture_output=True, text=True, encoding="utf-8", timeout=120)


def test_a_valid_id_prints_its_type_and_masked_form_only(tmp_path: Path) -> None:
    r = id_check("110105 19491231 002x", tmp_path=tmp_path)
    assert (r.returncode, r.stdout, r.stderr) == (0, "valid resident_id 1101**********002X\n", "")
    assert not (tmp_path / "var").exists()


@pytest.mark.parametrize(
    ("number", "args", "reason"),
    [
        ("110105194912310021", (), "id_check_digit"),
        ("11010519491331002X", ("--type", "resident_id"), "id_check_digit"),
        ("1101051949123100", (), "id_length"),
        ("11010519491231002Y", (), "id_format"),
        (HUAWEI_USCC, (), "id_type_unknown"),
        (SAMPLE, ("--type", "drivers_licence"), "id_type_invalid"),
        ("91350100M000100Y44", (), "uscc_check_digit"),
    ],
)
def test_an_invalid_number_prints_the_reason_and_exits_1(
    tmp_path: Path, number: str, args: tuple[str, ...], reason: str
) -> None:
    r = id_check(number, *args, tmp_path=tmp_path)
    assert (r.returncode, r.stdout, r.stderr) == (1, f"invalid {reason}\n", "")
    assert number not in r.stdout + r.stderr


def test_json_output_for_valid_and_invalid(tmp_path: Path) -> None:
    ok = id_check(HUAWEI_USCC, "--type", "uscc", "--json", tmp_path=tmp_path)
    assert ok.returncode == 0
    assert json.loads(ok.stdout) == {"valid": True, "type": "uscc", "masked": HUAWEI_USCC}
    bad = id_check("110105194912310021", "--json", tmp_path=tmp_path)
    assert bad.returncode == 1 and json.loads(bad.stdout) == {"valid": False, "reason": "id_check_digit"}
    assert "110105194912310021" not in bad.stdout + bad.stderr


def test_the_number_can_come_from_standard_input(tmp_path: Path) -> None:
    r = id_check("-", "--type", "temporary_resident_id", tmp_path=tmp_path, stdin=SAMPLE.lower() + "\n")
    assert (r.returncode, r.stdout) == (0, "valid temporary_resident_id 1101**********002X\n")


def test_other_documents_print_their_masked_form(tmp_path: Path) -> None:
    r = id_check("南字第1234567号", tmp_path=tmp_path)
    assert (r.returncode, r.stdout) == (0, "valid military_officer_id 南字第****567号\n")
    r = id_check("H1234567801", tmp_path=tmp_path)
    assert (r.returncode, r.stdout) == (0, "valid hk_macao_travel_permit H*****678\n")
    assert "1234567801" not in r.stdout + r.stderr


def test_the_help_names_every_document_type(tmp_path: Path) -> None:
    r = id_check("--help", tmp_path=tmp_path)
    assert r.returncode == 0 and "Usage" in r.stdout
    for doc_type in DocType:
        assert doc_type.value in r.stdout
