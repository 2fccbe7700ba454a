"""The keyring against a real database (SQLite and PostgreSQL): envelope encryption, rotation,
re-wrapping, blind indexes, signing keys, and keys of rolled-back transactions."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from parcelguard.core import db
from parcelguard.crypto import signing
from parcelguard.crypto.keyring import Keyring
from parcelguard.crypto.models import DataKey, IndexKey, KeyEncryptionKey
from parcelguard.crypto.types import Aad, DecryptionFailed, KeyUnavailable
from tests.tenants import writing

ROOT = bytes(range(32))
AAD = Aad("shipments", "recipient_phone", "row-1")
DB_SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _carrier(engine: Engine, keyring: Keyring) -> uuid.UUID:
    carrier_id = uuid.uuid4()
    with writing(engine) as s:
        keyring.ensure_carrier_keys(db_session=s, carrier_id=carrier_id)
    return carrier_id


def _session(engine: Engine) -> Session:
    return db.make_sessionmaker(engine)()


@DB_SETTINGS
@given(plaintext=st.binary(max_size=300), data_class=st.sampled_from(["default", "recipient", "sender"]))
def test_what_is_encrypted_decrypts_in_a_new_process(engine: Engine, plaintext: bytes, data_class: str) -> None:
    keyring = Keyring(ROOT)
    carrier_id = _carrier(engine, keyring)
    with writing(engine) as s:
        ct = keyring.encrypt(db_session=s, carrier_id=carrier_id, plaintext=plaintext, aad=AAD, data_class=data_class)
    if len(plaintext) >= 8:
        assert plaintext not in ct
    with _session(engine) as s:
        assert Keyring(ROOT).decrypt(db_session=s, carrier_id=carrier_id, ciphertext=ct, aad=AAD) == plaintext


def test_a_ciphertext_copied_to_another_row_does_not_decrypt(engine: Engine) -> None:
    keyring = Keyring(ROOT)
    carrier_id = _carrier(engine, keyring)
    with writing(engine) as s:
        ct = keyring.encrypt(db_session=s, carrier_id=carrier_id, plaintext="13812345678", aad=AAD)
        for other in (Aad("shipments", "recipient_phone", "row-2"), Aad("shipments", "sender_phone", "row-1")):
            with pytest.raises(DecryptionFailed):
                keyring.decrypt(db_session=s, carrier_id=carrier_id, ciphertext=ct, aad=other)


def test_another_carrier_cannot_decrypt_and_neither_can_another_root_key(engine: Engine) -> None:
    keyring = Keyring(ROOT)
    carrier_a, carrier_b = _carrier(engine, keyring), _carrier(engine, keyring)
    with writing(engine) as s:
        ct = keyring.encrypt(db_session=s, carrier_id=carrier_a, plaintext=b"secret", aad=AAD)
    with _session(engine) as s:
        with pytest.raises(KeyUnavailable):
            keyring.decrypt(db_session=s, carrier_id=carrier_b, ciphertext=ct, aad=AAD)
        with pytest.raises(DecryptionFailed):
            Keyring(bytes(32)).decrypt(db_session=s, carrier_id=carrier_a, ciphertext=ct, aad=AAD)


def test_a_data_key_of_a_rolled_back_transaction_is_never_used(engine: Engine) -> None:
    keyring = Keyring(ROOT)
    carrier_id = _carrier(engine, keyring)
    with _session(engine) as s:
        s.begin()
        lost = keyring.encrypt(db_session=s, carrier_id=carrier_id, plaintext=b"lost", aad=AAD)
        s.rollback()
    with writing(engine) as s:
        kept = keyring.encrypt(db_session=s, carrier_id=carrier_id, plaintext=b"kept", aad=AAD)
    assert kept.key_id != lost.key_id
    with _session(engine) as s:
        assert s.get(DataKey, lost.key_id) is None
        assert Keyring(ROOT).decrypt(db_session=s, carrier_id=carrier_id, ciphertext=kept, aad=AAD) == b"kept"


def test_rotation_sends_new_writes_to_the_new_kek_and_keeps_old_data_readable(engine: Engine) -> None:
    keyring = Keyring(ROOT)
    carrier_id = _carrier(engine, keyring)
    with writing(engine) as s:
        old = keyring.encrypt(db_session=s, carrier_id=carrier_id, plaintext=b"old", aad=AAD)
    with writing(engine) as s:
        assert keyring.rotate(db_session=s, carrier_id=carrier_id) == 2
    with writing(engine) as s:
        new = keyring.encrypt(db_session=s, carrier_id=carrier_id, plaintext=b"new", aad=AAD)
        kek_of = {k.version: k.id for k in s.scalars(select(KeyEncryptionKey)
                                                     .where(KeyEncryptionKey.carrier_id == carrier_id))}
        assert s.get(DataKey, old.key_id).kek_id == kek_of[1]
        assert s.get(DataKey, new.key_id).kek_id == kek_of[2]
        assert keyring.decrypt(db_session=s, carrier_id=carrier_id, ciphertext=old, aad=AAD) == b"old"


def test_rewrap_moves_data_keys_to_the_primary_kek_without_touching_row_data(engine: Engine) -> None:
    keyring = Keyring(ROOT)
    carrier_id = _carrier(engine, keyring)
    with writing(engine) as s:
        cts = [keyring.encrypt(db_session=s, carrier_id=carrier_id, plaintext=bytes([i]) * 20, aad=AAD,
                               data_class=f"class-{i}") for i in range(3)]
    with writing(engine) as s:
        keyring.rotate(db_session=s, carrier_id=carrier_id)
    with writing(engine) as s:
        assert keyring.rewrap(db_session=s, carrier_id=carrier_id) == 3
        assert keyring.rewrap(db_session=s, carrier_id=carrier_id) == 0
    with _session(engine) as s:
        primary = s.scalar(select(KeyEncryptionKey.id).where(KeyEncryptionKey.carrier_id == carrier_id,
                                                             KeyEncryptionKey.state == "primary"))
        assert {s.get(DataKey, ct.key_id).kek_id for ct in cts} == {primary}
        fresh = Keyring(ROOT)
        assert [fresh.decrypt(db_session=s, carrier_id=carrier_id, ciphertext=ct, aad=AAD) for ct in cts] == [
            bytes([i]) * 20 for i in range(3)]


def test_the_blind_index_matches_equal_values_in_any_notation_per_carrier_and_field(engine: Engine) -> None:
    keyring = Keyring(ROOT)
    carrier_a, carrier_b = _carrier(engine, keyring), _carrier(engine, keyring)
    with writing(engine) as s:
        def index(carrier: uuid.UUID, field: str, value: str) -> bytes:
            return keyring.blind_index(db_session=s, carrier_id=carrier, field=field, value=value)

        assert index(carrier_a, "phone", "13812345678") == index(carrier_a, "phone", "+86 138 1234 5678")
        assert index(carrier_a, "id_number", "11010519491231002x") == index(carrier_a, "id_number",
                                                                              "110105 19491231 002X")
        assert index(carrier_a, "phone", "13812345678") != index(carrier_b, "phone", "13812345678")
        assert index(carrier_a, "phone", "13812345678") != index(carrier_a, "name", "13812345678")
        assert len(index(carrier_a, "phone", "13812345678")) == 17
        with pytest.raises(ValueError):
            index(carrier_a, "favourite_colour", "blue")
    with _session(engine) as s:
        again = Keyring(ROOT).blind_index(db_session=s, carrier_id=carrier_a, field="phone", value="13812345678")
        assert again == keyring.blind_index(db_session=s, carrier_id=carrier_a, field="phone", value="13812345678")


def test_signing_keys_are_made_once_and_verify(engine: Engine) -> None:
    keyring = Keyring(ROOT)
    carrier_id = _carrier(engine, keyring)
    with writing(engine) as s:
        signer = keyring.signing_key(db_session=s, carrier_id=carrier_id, purpose="tree_head")
        signature = signer.sign(b"tree head")
    with _session(engine) as s:
        again = Keyring(ROOT).signing_key(db_session=s, carrier_id=carrier_id, purpose="tree_head")
        assert again.key_id == signer.key_id
        published = keyring.public_keys(db_session=s, carrier_id=carrier_id, purpose="tree_head")
        signing.verify(published[signer.key_id], b"tree head", signature)
        assert "_private" not in repr(again) and again.public_key.hex() not in repr(keyring)


def test_the_keyring_never_shows_its_root_key() -> None:
    assert ROOT.hex() not in repr(Keyring(ROOT)) and str(ROOT) not in repr(Keyring(ROOT))


def test_the_database_holds_no_key_in_the_clear(engine: Engine) -> None:
    keyring = Keyring(ROOT)
    carrier_id = _carrier(engine, keyring)
    with writing(engine) as s:
        keyring.encrypt(db_session=s, carrier_id=carrier_id, plaintext=b"x", aad=AAD)
        kek = s.scalar(select(KeyEncryptionKey).where(KeyEncryptionKey.carrier_id == carrier_id))
        index_key = s.scalar(select(IndexKey).where(IndexKey.carrier_id == carrier_id))
        # Wrapped: nonce (12) + key (32) + tag (16).
        assert len(kek.wrapped_key) == 60 and len(index_key.wrapped_key) == 60
