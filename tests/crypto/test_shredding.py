"""Crypto-shredding (issue 15), on both engines: destroying a month of one data class makes every value under it
fail to decrypt, here and, with a key store of its own, in a backup of the database taken before; the other
classes and months stay readable; shredding again changes nothing; a crash after the key store's part leaves the
month unreadable and a repeat finishes the rows. With the key store inside the database, the old backup still
opens: that is why production keeps it apart (docs/retention.md)."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from parcelguard.core import db
from parcelguard.crypto import shredding
from parcelguard.crypto.keyring import Keyring, _period_and_lifetime
from parcelguard.crypto.keystore import InDatabase, KeyStore, Separate
from parcelguard.crypto.types import Aad, KeyUnavailable
from tests.conftest import TEST_ROOT_KEY
from tests.support import PG_ADMIN_URL, empty_database, migrated_database
from tests.tenants import writing

MONTH = _period_and_lifetime()[0]


def seal(engine: Engine, keyring: Keyring, carrier_id: uuid.UUID, values: dict[str, str]) -> dict[str, bytes]:
    """Each value encrypted under the data class its name says (`class:row`), committed."""
    with writing(engine) as s:
        return {name: keyring.encrypt(db_session=s, carrier_id=carrier_id, plaintext=value, data_class=name.split(":")[0],
                                      aad=Aad("t", "c", name)) for name, value in values.items()}


def opens(engine: Engine, keyring: Keyring, carrier_id: uuid.UUID, name: str, ciphertext: bytes) -> str | None:
    """The plaintext, or None when its key is gone; a fresh keyring each time (no cache can answer)."""
    fresh = Keyring(TEST_ROOT_KEY, keystore=keyring.keystore)
    with db.make_sessionmaker(engine)() as s:
        try:
            return fresh.decrypt(db_session=s, carrier_id=carrier_id, ciphertext=ciphertext, aad=Aad("t", "c", name)).decode()
        except KeyUnavailable:
            return None


def new_carrier(engine: Engine, keyring: Keyring) -> uuid.UUID:
    carrier_id = uuid.uuid4()
    with writing(engine) as s:
        keyring.ensure_carrier_keys(db_session=s, carrier_id=carrier_id)
    return carrier_id


def shred(engine: Engine, keyring: Keyring, carrier_id: uuid.UUID, data_class: str) -> shredding.Shredded:
    with writing(engine) as s:
        return shredding.shred(db_session=s, keyring=keyring, carrier_id=carrier_id, data_class=data_class,
                               periods=[MONTH])


def test_shredding_a_month_of_one_class_leaves_the_others_and_is_idempotent(engine: Engine) -> None:
    keyring = Keyring(TEST_ROOT_KEY)
    carrier_id = new_carrier(engine, keyring)
    sealed = seal(engine, keyring, carrier_id, {"recipient:1": "司马收件", "recipient:2": "上海市浦东新区",
                                                "photo:1": "jpeg bytes"})
    assert opens(engine, keyring, carrier_id, "recipient:1", sealed["recipient:1"]) == "司马收件"
    done = shred(engine, keyring, carrier_id, "recipient")
    assert len(done.shred_key_ids) == 1 and len(done.data_key_ids) == 1
    for name in ("recipient:1", "recipient:2"):
        assert opens(engine, keyring, carrier_id, name, sealed[name]) is None
    with db.make_sessionmaker(engine)() as s, pytest.raises(KeyUnavailable):  # this process's cache forgot it too
        keyring.decrypt(db_session=s, carrier_id=carrier_id, ciphertext=sealed["recipient:1"],
                        aad=Aad("t", "c", "recipient:1"))
    assert opens(engine, keyring, carrier_id, "photo:1", sealed["photo:1"]) == "jpeg bytes"
    again = shred(engine, keyring, carrier_id, "recipient")
    assert (again.shred_key_ids, again.data_key_ids) == ((), ())
    # a value written after the shredding is under a new key of its own, readable
    later = seal(engine, keyring, carrier_id, {"recipient:3": "欧阳寄件"})
    assert opens(engine, keyring, carrier_id, "recipient:3", later["recipient:3"]) == "欧阳寄件"
    with db.make_sessionmaker(engine)() as s:
        [month] = [m for m in shredding.months(db_session=s, keyring=keyring, carrier_id=carrier_id)
                   if m.data_class == "recipient"]
    assert (month.live, month.destroyed, month.shred_keys) == (1, 1, 1)


def test_a_crash_after_the_key_store_leaves_the_month_unreadable_and_a_repeat_finishes(engine: Engine) -> None:
    keyring = Keyring(TEST_ROOT_KEY)
    carrier_id = new_carrier(engine, keyring)
    sealed = seal(engine, keyring, carrier_id, {"sender:1": "+8613912345678"})
    with pytest.raises(RuntimeError), writing(engine) as s:  # the process dies before its transaction commits
        shredding.shred(db_session=s, keyring=keyring, carrier_id=carrier_id, data_class="sender", periods=[MONTH])
        raise RuntimeError("crash")
    # in the database's own key store the crash rolled the whole shredding back: nothing half-destroyed
    assert opens(engine, keyring, carrier_id, "sender:1", sealed["sender:1"]) == "+8613912345678"
    done = shred(engine, keyring, carrier_id, "sender")
    assert len(done.data_key_ids) == 1
    assert opens(engine, keyring, carrier_id, "sender:1", sealed["sender:1"]) is None


def test_with_a_separate_key_store_a_crash_after_its_part_leaves_the_month_unreadable_and_a_repeat_marks_it(
    engine: Engine, separate_store: Separate
) -> None:
    keyring = Keyring(TEST_ROOT_KEY, keystore=separate_store)
    carrier_id = new_carrier(engine, keyring)
    sealed = seal(engine, keyring, carrier_id, {"sender:1": "+8613912345678"})
    with pytest.raises(RuntimeError), writing(engine) as s:
        shredding.shred(db_session=s, keyring=keyring, carrier_id=carrier_id, data_class="sender", periods=[MONTH])
        raise RuntimeError("crash")
    assert opens(engine, keyring, carrier_id, "sender:1", sealed["sender:1"]) is None  # gone with the store's key
    with db.make_sessionmaker(engine)() as s:
        [month] = shredding.months(db_session=s, keyring=keyring, carrier_id=carrier_id)
    assert (month.live, month.shred_keys) == (1, 0)  # the row not yet marked: what a repeat finds
    done = shred(engine, keyring, carrier_id, "sender")
    assert (done.shred_key_ids, len(done.data_key_ids)) == ((), 1)
    with db.make_sessionmaker(engine)() as s:
        [month] = shredding.months(db_session=s, keyring=keyring, carrier_id=carrier_id)
    assert (month.live, month.destroyed) == (0, 1)


@pytest.fixture
def separate_store(database_url: str, tmp_path: Path) -> Iterator[Separate]:
    """A key store of its own, on the same engine as the test's database."""
    kind = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    with empty_database(kind, tmp_path) as url:
        store = Separate(url)
        try:
            yield store
        finally:
            store.close()


def backup(url: str, tmp_path: Path) -> Iterator[str]:
    """A copy of the database as a backup would hold it: SQLite's online backup, PostgreSQL's template copy."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        target = tmp_path / f"backup-{uuid.uuid4().hex[:8]}.db"
        with sqlite3.connect(str(parsed.database)) as source, sqlite3.connect(str(target)) as copy:
            source.backup(copy)
        yield f"sqlite:///{target}"
        return
    name = f"pg_backup_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{parsed.database}"'))
        yield parsed.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def shred_then_open_the_backup(url: str, store: KeyStore, tmp_path: Path) -> tuple[str | None, str | None]:
    """Write a value, take a backup, shred the month in the live database: what the live database and the
    backup then open (a fresh keyring on the same key store and root key, as a thief with both would)."""
    keyring = Keyring(TEST_ROOT_KEY, keystore=store)
    engine = db.make_engine(url)
    try:
        carrier_id = new_carrier(engine, keyring)
        sealed = seal(engine, keyring, carrier_id, {"recipient:1": "司马收件"})["recipient:1"]
    finally:
        engine.dispose()
    copies = backup(url, tmp_path)
    copy_url = next(copies)
    engine, copy = db.make_engine(url), db.make_engine(copy_url)
    try:
        shred(engine, keyring, carrier_id, "recipient")
        return (opens(engine, keyring, carrier_id, "recipient:1", sealed),
                opens(copy, keyring, carrier_id, "recipient:1", sealed))
    finally:
        engine.dispose()
        copy.dispose()
        next(copies, None)


def test_a_backup_taken_before_shredding_no_longer_opens_with_a_separate_key_store(
    database_url: str, separate_store: Separate, tmp_path: Path
) -> None:
    kind = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    with migrated_database(kind, tmp_path) as url:
        assert shred_then_open_the_backup(url, separate_store, tmp_path) == (None, None)
    # the key store keeps no trace of the key: no row, and (SQLite) not in the file's bytes
    with separate_store.engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM shred_keys")) == 0


def test_with_the_key_store_inside_the_database_a_backup_taken_before_still_opens(
    database_url: str, tmp_path: Path
) -> None:
    kind = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    with migrated_database(kind, tmp_path) as url:
        assert shred_then_open_the_backup(url, InDatabase(), tmp_path) == (None, "司马收件")


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.text(min_size=0, max_size=64), min_size=1, max_size=4),
       data_class=st.sampled_from(["recipient", "item", "photo"]))
def test_values_round_trip_until_their_month_is_shredded(engine: Engine, values: list[str], data_class: str) -> None:
    keyring = Keyring(TEST_ROOT_KEY)
    carrier_id = new_carrier(engine, keyring)
    sealed = seal(engine, keyring, carrier_id, {f"{data_class}:{i}": v for i, v in enumerate(values)})
    assert [opens(engine, keyring, carrier_id, n, c) for n, c in sealed.items()] == values
    shred(engine, keyring, carrier_id, data_class)
    assert [opens(engine, keyring, carrier_id, n, c) for n, c in sealed.items()] == [None] * len(values)
