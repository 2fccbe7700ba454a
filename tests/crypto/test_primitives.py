"""The crypto formats without a database: known answers from the standards, round trips, tampering."""

from __future__ import annotations

import hmac
import os

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given
from hypothesis import strategies as st

from parcelguard.crypto import blind_index, envelope, sealing, signing
from parcelguard.crypto.types import Aad, BlindIndex, DecryptionFailed, Encrypted, Masked, Sealed

# RFC 8032 §7.1, TEST 1
ED_SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
ED_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
ED_SIGNATURE = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)
# RFC 7748 §6.1
X_ALICE_PRIVATE = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
X_ALICE_PUBLIC = bytes.fromhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
X_BOB_PRIVATE = bytes.fromhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
X_BOB_PUBLIC = bytes.fromhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
X_SHARED = bytes.fromhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
# RFC 4231 §4.3, test case 2
HMAC_KEY, HMAC_DATA = b"Jefe", "what do ya want for nothing?"
HMAC_SHA256 = bytes.fromhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")

AAD = Aad("shipments", "recipient_phone", "5b0c6f0e-0000-4000-8000-000000000001")


def test_signing_matches_rfc_8032_test_1() -> None:
    assert signing.public_of(ED_SECRET) == ED_PUBLIC
    assert signing.sign(ED_SECRET, b"") == ED_SIGNATURE
    signing.verify(ED_PUBLIC, b"", ED_SIGNATURE)
    with pytest.raises(signing.BadSignature):
        signing.verify(ED_PUBLIC, b"x", ED_SIGNATURE)


def test_a_record_sealed_with_the_rfc_7748_keys_opens_with_the_recipients_key() -> None:
    # Build the sealed form by hand from the published shared secret: Alice is the ephemeral key,
    # Bob the recipient. If our format or key schedule drifted, Bob could not open it.
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=X_ALICE_PUBLIC + X_BOB_PUBLIC,
               info=b"parcelguard/seal/v1").derive(X_SHARED)
    nonce = bytes(12)
    sealed = bytes([1]) + X_ALICE_PUBLIC + nonce + AESGCM(key).encrypt(nonce, b"real-name record", b"ctx")
    assert sealing.open_sealed(X_BOB_PRIVATE, sealed, b"ctx") == b"real-name record"
    with pytest.raises(DecryptionFailed):
        sealing.open_sealed(X_ALICE_PRIVATE, sealed, b"ctx")


def test_the_blind_index_is_truncated_hmac_sha256_of_rfc_4231() -> None:
    assert blind_index.compute(HMAC_KEY, HMAC_DATA) == b"\x01" + HMAC_SHA256[:16]


@given(st.binary(max_size=512))
def test_seal_then_open_gives_back_the_record(record: bytes) -> None:
    private, public = sealing.generate_x25519_keypair()
    assert sealing.open_sealed(private, sealing.seal(public, record, b"batch-1"), b"batch-1") == record


@given(records=st.lists(st.binary(max_size=200), min_size=1, max_size=20))
def test_a_sealing_session_seals_records_that_each_open_alone_and_only_with_their_aad(records: list[bytes]) -> None:
    private, public = sealing.generate_x25519_keypair()
    session = sealing.SealingSession(public, max_records=len(records))
    sealed = [session.seal(r, f"record-{i}".encode()) for i, r in enumerate(records)]
    assert [sealing.open_sealed(private, s, f"record-{i}".encode()) for i, s in enumerate(sealed)] == records
    assert len({s[1 + 32 : 1 + 32 + 12] for s in sealed}) == len(sealed)  # one ephemeral key, a fresh nonce each
    assert len({s[1 : 1 + 32] for s in sealed}) == 1
    if len(sealed) > 1:
        with pytest.raises(DecryptionFailed):  # swapping records between ids is caught
            sealing.open_sealed(private, sealed[1], b"record-0")
    with pytest.raises(RuntimeError):
        session.seal(b"one too many", b"aad")


@given(record=st.binary(min_size=1, max_size=64), where=st.data())
def test_any_changed_byte_of_a_sealed_record_fails(record: bytes, where: st.DataObject) -> None:
    private, public = sealing.generate_x25519_keypair()
    sealed = bytearray(sealing.seal(public, record, b"aad"))
    i = where.draw(st.integers(0, len(sealed) - 1))
    sealed[i] ^= where.draw(st.integers(1, 255))
    with pytest.raises(DecryptionFailed):
        sealing.open_sealed(private, bytes(sealed), b"aad")


@given(st.binary(max_size=300))
def test_a_field_ciphertext_opens_where_it_was_made(plaintext: bytes) -> None:
    aead = AESGCM(os.urandom(32))
    ct = envelope.field_sealer(aead, 42)(plaintext, AAD)
    assert ct.key_id == 42 and envelope.key_id_of(ct) == 42
    assert envelope.field_opener(aead)(ct, AAD) == plaintext


@given(plaintext=st.binary(max_size=64), where=st.data())
def test_any_changed_byte_of_a_field_ciphertext_fails(plaintext: bytes, where: st.DataObject) -> None:
    aead = AESGCM(os.urandom(32))
    ct = bytearray(envelope.field_sealer(aead, 7)(plaintext, AAD))
    i = where.draw(st.integers(0, len(ct) - 1))
    ct[i] ^= where.draw(st.integers(1, 255))
    with pytest.raises(DecryptionFailed):
        envelope.key_id_of(bytes(ct))  # a changed version byte fails here already
        envelope.field_opener(aead)(bytes(ct), AAD)


@pytest.mark.parametrize("other", [Aad("shipments", "recipient_phone", "another-row"),
                                   Aad("shipments", "recipient_name", AAD.row_id),
                                   Aad("senders", "recipient_phone", AAD.row_id)])
def test_a_ciphertext_moved_to_another_place_does_not_open(other: Aad) -> None:
    aead = AESGCM(os.urandom(32))
    with pytest.raises(DecryptionFailed):
        envelope.field_opener(aead)(envelope.field_sealer(aead, 1)(b"13812345678", AAD), other)


def test_aad_parts_cannot_be_shifted_between_fields() -> None:
    # Only the row id, which comes last, may hold the separator; so no two places encode alike.
    with pytest.raises(ValueError):
        Aad("a|b", "c", 1)
    with pytest.raises(ValueError):
        Aad("a", "b|c", 1)
    assert Aad("t", "c", "x|y").encode() == b"t|c|x|y"


@given(st.binary(min_size=32, max_size=32), st.binary(min_size=32, max_size=32))
def test_a_wrapped_key_needs_the_same_wrapping_key_and_context(key: bytes, wrapping: bytes) -> None:
    wrapped = envelope.wrap(key, wrapping, b"kek|c|1")
    assert envelope.unwrap(wrapped, wrapping, b"kek|c|1") == key
    with pytest.raises(DecryptionFailed):
        envelope.unwrap(wrapped, wrapping, b"kek|c|2")


@given(st.sampled_from("3456789"), st.text("0123456789", min_size=9, max_size=9))
def test_the_phone_fast_path_agrees_with_phonenumbers(second: str, rest: str) -> None:
    import phonenumbers

    number = "1" + second + rest
    full = phonenumbers.format_number(phonenumbers.parse(number, "CN"), phonenumbers.PhoneNumberFormat.E164)
    assert blind_index.normalise_phone(number) == full
    assert blind_index.normalise_phone("+86" + number) == full
    assert blind_index.normalise_phone(f"+86 {number[:3]} {number[3:7]} {number[7:]}") == full


def test_id_numbers_normalise_spaces_and_the_check_letter() -> None:
    assert blind_index.normalise_id_number(" 110105 19491231 002x ") == "11010519491231002X"


def test_no_value_type_prints_what_it_protects() -> None:
    secret = b"11010519491231002X"
    aead = AESGCM(os.urandom(32))
    ct = envelope.field_sealer(aead, 9)(secret, AAD)
    assert isinstance(ct, Encrypted)
    _, public = sealing.generate_x25519_keypair()
    values = [ct, sealing.seal(public, secret, b""), blind_index.compute(os.urandom(32), secret.decode())]
    for value in values:
        for shown in (repr(value), str(value), f"{value}"):
            assert secret.decode() not in shown and secret.hex() not in shown
    assert isinstance(values[1], Sealed) and isinstance(values[2], BlindIndex)
    assert str(Masked("1101**********002X")) == "1101**********002X"


def test_hmac_digest_is_the_same_as_a_hmac_object() -> None:
    key = os.urandom(32)
    assert blind_index.compute(key, "x")[1:] == hmac.new(key, b"x", "sha256").digest()[:16]


@given(st.lists(st.tuples(st.integers(min_value=0, max_value=3), st.binary(max_size=64), st.binary(max_size=16)),
                min_size=1, max_size=30), st.integers(min_value=1, max_value=3))
def test_an_opener_opens_what_any_session_sealed_whatever_its_cache(
    records: list[tuple[int, bytes, bytes]], cache: int
) -> None:
    private, public = sealing.generate_x25519_keypair()
    sessions = [sealing.SealingSession(public) for _ in range(4)]
    sealed = [(sessions[s].seal(plaintext, aad), plaintext, aad) for s, plaintext, aad in records]
    opener = sealing.Opener(private, cache=cache)
    for box, plaintext, aad in sealed + sealed:  # twice: from the cache and after it dropped keys
        assert opener.open(box, aad) == plaintext
        with pytest.raises(DecryptionFailed):
            opener.open(box, aad + b"x")
        with pytest.raises(DecryptionFailed):
            opener.open(box[:-1] + bytes([box[-1] ^ 1]), aad)
