"""What a production start of the regulator's platform refuses: SQLite (unless allowed), a missing key,
a development key file; the app and `parcelguard regulator run` stop with one line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from parcelguard.core.config import ConfigError, RegulatorSettings, encode_root_key
from parcelguard.web.regulator_app import create_regulator_app

PG = "postgresql+psycopg://regulator@db/platform"
KEY = SecretStr(encode_root_key(bytes(range(32))))
KEYS = {"private_key": KEY, "signing_key": KEY, "root_key": KEY}


def test_development_refuses_nothing(tmp_path: Path) -> None:
    assert RegulatorSettings(var_dir=tmp_path).production_problems() == []


def test_production_needs_every_key() -> None:
    problems = RegulatorSettings(env="prod", database_url=PG).production_problems()
    assert problems == [
        "no regulator private key: set PARCELGUARD_REGULATOR_PRIVATE_KEY or PARCELGUARD_REGULATOR_PRIVATE_KEY_FILE",
        "no regulator signing key: set PARCELGUARD_REGULATOR_SIGNING_KEY or PARCELGUARD_REGULATOR_SIGNING_KEY_FILE",
        "no regulator root key: set PARCELGUARD_REGULATOR_ROOT_KEY or PARCELGUARD_REGULATOR_ROOT_KEY_FILE",
    ]
    assert RegulatorSettings(env="prod", database_url=PG, **KEYS).production_problems() == []


def test_production_refuses_sqlite_unless_allowed() -> None:
    assert "SQLite is the development store" in RegulatorSettings(env="prod", **KEYS).production_problems()[0]
    assert RegulatorSettings(env="prod", allow_sqlite_in_prod=True, **KEYS).production_problems() == []


def test_production_refuses_the_development_key_files_wherever_they_were_copied(tmp_path: Path) -> None:
    var = tmp_path / "var"
    assert subprocess.run([sys.executable, "-m", "parcelguard", "regulator", "init"], check=False,
                          env={**_clean_env(), "PARCELGUARD_VAR_DIR": str(var)}, capture_output=True).returncode == 0
    in_var = RegulatorSettings(env="prod", var_dir=var, database_url=PG, private_key_file=var / "regulator.key",
                               signing_key_file=var / "regulator-signing.key", root_key_file=var / "regulator-root.key")
    assert [p.split(" file ")[0] for p in in_var.production_problems()] == [
        "the regulator private key", "the regulator signing key", "the regulator root key"]
    assert all(p.endswith("is a development key") for p in in_var.production_problems())
    copied = tmp_path / "elsewhere" / "signing.key"
    copied.parent.mkdir()
    shutil.copy(var / "regulator-signing.key", copied)
    settings = RegulatorSettings(env="prod", database_url=PG, private_key=KEY, root_key=KEY, signing_key_file=copied)
    assert settings.production_problems() == [f"the regulator signing key file {copied} is a development key"]
    # a key file of the operator's own (no development marker) is fine
    own = tmp_path / "elsewhere" / "own.key"
    own.write_text(encode_root_key(os.urandom(32)) + "\n")
    assert RegulatorSettings(env="prod", database_url=PG, private_key=KEY, root_key=KEY,
                             signing_key_file=own).production_problems() == []


def test_the_app_refuses_to_start_with_a_production_problem() -> None:
    with pytest.raises(ConfigError, match="^SQLite is the development store"):
        create_regulator_app(RegulatorSettings(env="prod", **KEYS))


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PARCELGUARD_")}


@pytest.mark.parametrize("command", [("regulator", "run"), ("regulator", "init"), ("regulator", "lookups", "verify")])
def test_regulator_commands_refuse_a_production_problem_in_one_line(tmp_path: Path, command: tuple[str, ...]) -> None:
    env = {**_clean_env(), "PARCELGUARD_ENV": "prod", "PARCELGUARD_VAR_DIR": str(tmp_path / "var"),
           "PARCELGUARD_REGULATOR_DATABASE_URL": PG}
    r = subprocess.run([sys.executable, "-m", "parcelguard", *command], check=False, env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr.strip() == ("parcelguard: configuration error: no regulator private key: set "
                                "PARCELGUARD_REGULATOR_PRIVATE_KEY or PARCELGUARD_REGULATOR_PRIVATE_KEY_FILE")
