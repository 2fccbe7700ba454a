"""`parcelguard numbers` as an operator runs it: a real process, real exit codes, real output."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from parcelguard.core import db
from parcelguard.core.config import Settings
from parcelguard.crypto.keyring import Keyring
from parcelguard.privacy_numbers import service
from parcelguard.privacy_numbers.models import PrivacyNumber, ProviderSecret
from tests.privacy_numbers.pool import new_number
from tests.support import count_rows, parcelguard


@pytest.fixture
def env(tmp_path: Path, fresh_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARCELGUARD_")}
    env.update(PARCELGUARD_VAR_DIR=str(tmp_path / "var"), PARCELGUARD_DATABASE_URL=fresh_url, COLUMNS="200")
    for args in (["init"], ["carriers", "add", "--slug", "acme", "--name", "Acme", "--prefix", "AC"]):
        done = parcelguard(*args, env=env)
        assert done.returncode == 0, done.stderr
    return env


def test_an_operator_adds_lists_and_reads_the_providers_secret(env: dict[str, str], tmp_path: Path) -> None:
    first, second = new_number(), new_number()
    added = parcelguard("numbers", "add", "--carrier", "acme", first, second.removeprefix("+86"), env=env)
    assert added.returncode == 0, added.stderr
    assert added.stdout.splitlines() == ["carrier acme: added 2 number(s), 0 already in the pool", first, second]
    again = parcelguard("numbers", "add", "--carrier", "acme", first, env=env)
    assert again.stdout.splitlines() == ["carrier acme: added 0 number(s), 1 already in the pool"]

    listed = parcelguard("numbers", "list", "--carrier", "acme", env=env)
    assert listed.returncode == 0, listed.stderr
    assert [line.split("\t")[:3] for line in listed.stdout.splitlines()] == [
        [n, "active", "0/10000"] for n in sorted([first, second])]

    secret = parcelguard("numbers", "secret", "--carrier", "acme", env=env)
    assert secret.returncode == 0, secret.stderr
    assert re.fullmatch(r"[0-9a-f]{64}\n", secret.stdout)
    # The same secret the server checks signatures with, and it does not change.
    url = env["PARCELGUARD_DATABASE_URL"]
    keyring = Keyring(Settings(var_dir=tmp_path / "var").load_root_key())
    engine = db.make_engine(url)
    try:
        with db.make_sessionmaker(engine)() as s:
            carrier_id = s.scalar(PrivacyNumber.__table__.select().with_only_columns(PrivacyNumber.carrier_id)
                                  .limit(1))
            assert carrier_id is not None
            expected = service.provider_secret(db_session=s, keyring=keyring, carrier_id=carrier_id)
    finally:
        engine.dispose()
    assert secret.stdout.strip() == expected
    assert parcelguard("numbers", "secret", "--carrier", "acme", env=env).stdout == secret.stdout


def test_a_bad_number_adds_nothing_and_names_each_bad_item(env: dict[str, str]) -> None:
    good = new_number()
    r = parcelguard("numbers", "add", "--carrier", "acme", good, "12", good, env=env)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.strip() == "parcelguard: nothing added: '12': number_format; " \
                               f"'{good}': number_duplicate"
    assert count_rows(env["PARCELGUARD_DATABASE_URL"], PrivacyNumber) == 0
    unknown = parcelguard("numbers", "list", "--carrier", "nope", env=env)
    assert (unknown.returncode, unknown.stderr.strip()) == (1, "parcelguard: no carrier with slug 'nope'")


def test_an_operator_rotates_the_providers_secret(env: dict[str, str]) -> None:
    before = parcelguard("numbers", "secret", "--carrier", "acme", env=env).stdout
    rotated = parcelguard("numbers", "secret", "--carrier", "acme", "--rotate", "--overlap-hours", "0", env=env)
    assert rotated.returncode == 0, rotated.stderr
    assert re.fullmatch(r"[0-9a-f]{64}\n", rotated.stdout) and rotated.stdout != before
    assert "generation 1" in rotated.stderr
    assert parcelguard("numbers", "secret", "--carrier", "acme", env=env).stdout == rotated.stdout
    bad = parcelguard("numbers", "secret", "--carrier", "acme", "--rotate", "--overlap-hours", "200", env=env)
    assert (bad.returncode, bad.stdout) == (1, "")
    assert bad.stderr.strip() == "parcelguard: The overlap is 0 to 168 hours."
    assert count_rows(env["PARCELGUARD_DATABASE_URL"], ProviderSecret) == 2  # generations 0 and 1, no third
