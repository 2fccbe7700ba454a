"""`parcelguard waybill check` as an operator runs it: a real process, real exit codes, real output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from parcelguard.waybills.numbers import WaybillNumbers

NUMBER = WaybillNumbers(bytes(range(32)), "DE").format(1234)
_AT = next(i for i in range(2, 14) if NUMBER[i] != NUMBER[i + 1])
SWAPPED = NUMBER[:_AT] + NUMBER[_AT + 1] + NUMBER[_AT] + NUMBER[_AT + 2:]  # two neighbours swapped


def waybill_check(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    # No key and no database: the check runs with no configuration at all.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARCELGUARD_")}
    env.update(PARCELGUARD_VAR_DIR=str(tmp_path / "var"), COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "parcelguard", "waybill", "check", *args], check=False,
                          env=env, capture_output=True, text=True, timeout=120)


def test_a_valid_number_prints_valid_and_exits_0(tmp_path: Path) -> None:
    r = waybill_check(NUMBER, tmp_path=tmp_path)
    assert (r.returncode, r.stdout, r.stderr) == (0, f"valid {NUMBER}\n", "")
    assert not (tmp_path / "var").exists()


def test_a_number_typed_loosely_prints_its_normal_form(tmp_path: Path) -> None:
    typed = f"{NUMBER[:2].lower()} {NUMBER[2:8]}-{NUMBER[8:]}"
    r = waybill_check(typed, tmp_path=tmp_path)
    assert (r.returncode, r.stdout) == (0, f"valid {NUMBER}\n")


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ((NUMBER[:-1] + str((int(NUMBER[-1]) + 1) % 10),), "waybill_check_digit"),
        ((SWAPPED,), "waybill_check_digit"),
        ((NUMBER[:-1],), "waybill_format"),
        (("",), "waybill_format"),
        ((NUMBER, "--prefix", "ZT"), "waybill_prefix"),
    ],
)
def test_a_bad_number_prints_its_reason_code_and_exits_1(
    args: tuple[str, ...], reason: str, tmp_path: Path
) -> None:
    r = waybill_check(*args, tmp_path=tmp_path)
    assert (r.returncode, r.stdout, r.stderr) == (1, f"invalid {reason}\n", "")


def test_the_expected_prefix_may_be_given_in_lower_case(tmp_path: Path) -> None:
    r = waybill_check(NUMBER, "--prefix", "de", tmp_path=tmp_path)
    assert (r.returncode, r.stdout) == (0, f"valid {NUMBER}\n")
