"""QR tokens without a database: the wire layout by hand, round trips, tampering, kinds, time, rotation."""

from __future__ import annotations

import base64
import hashlib
import string
import struct
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from parcelguard.crypto import signing, tokens
from parcelguard.crypto.keyring import Signer
from parcelguard.crypto.tokens import TokenInvalid

# RFC 8032 §7.1, TEST 1
ED_SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
NOW = 1_700_000_000
SUBJECT = uuid.UUID("12345678-1234-5678-1234-567812345678")
# issue(kind="realname", subject=SUBJECT, key 0x0123456789ABCDEF = ED_SECRET, now=NOW, ttl 600)
KNOWN_TOKEN = ("CEASGRLHRGV4333FKPYQAAACLAJDIVTYCI2FM6ASGRLHQERUKZ4HF66BBMYQEX4MISKVPKC3OHJ5JQKPY2GTUVKNFD"
               "WFA3KYLASXQZ3BGGHD56HMMIB2CMKP33BW35NFXFV6X2YDR3U42SV2MYHVH3C2BI")
QR_ALPHANUMERIC = set(string.digits + string.ascii_uppercase + " $%*+-./:")
B32 = string.ascii_uppercase + "234567"


def new_signer(key_id: int) -> Signer:
    private, public = signing.generate()
    return Signer(key_id, public, private)


SIGNER = new_signer(41)
KEYS = {SIGNER.key_id: SIGNER.public_key}
GOOD = tokens.issue(SIGNER, kind="realname", subject=SUBJECT, now=NOW)

subjects = st.one_of(st.uuids(), st.binary(min_size=16, max_size=16))
kinds = st.sampled_from(sorted(tokens.KINDS))
ttls = st.integers(1, tokens.MAX_TTL_SECONDS)
times = st.integers(0, 2**32 - 1)


def reason(token: str, *, kind: str = "realname", keys: dict[int, bytes] = KEYS, now: float = NOW,
           leeway_seconds: int = 30) -> str:
    with pytest.raises(TokenInvalid) as refused:
        tokens.verify(token, keys, kind=kind, now=now, leeway_seconds=leeway_seconds)
    return refused.value.reason


def test_the_known_token_is_the_documented_layout_signed_with_the_context() -> None:
    # Built here from the layout in the module docstring, with pyca directly: if the format drifts, this fails.
    payload = struct.pack(">BQI", 1 << 4 | 1, 0x0123456789ABCDEF, NOW) + (600).to_bytes(3, "big") + SUBJECT.bytes
    signature = Ed25519PrivateKey.from_private_bytes(ED_SECRET).sign(b"parcelguard/token/v1\x00" + payload)
    assert base64.b32encode(payload + signature).decode().rstrip("=") == KNOWN_TOKEN
    assert len(KNOWN_TOKEN) == tokens.TOKEN_LENGTH == 154

    known_signer = Signer(0x0123456789ABCDEF, signing.public_of(ED_SECRET), ED_SECRET)
    assert tokens.issue(known_signer, kind="realname", subject=SUBJECT, now=NOW) == KNOWN_TOKEN
    verified = tokens.verify(KNOWN_TOKEN, {known_signer.key_id: known_signer.public_key}, kind="realname",
                             now=NOW)
    assert (verified.kind, verified.subject_uuid, verified.issued_at, verified.expires_at, verified.key_id) == (
        "realname", SUBJECT, NOW, NOW + 600, 0x0123456789ABCDEF)
    assert verified.token_id == hashlib.sha256(b"parcelguard/token/v1\x00" + payload).digest()[:16]
    assert tokens.token_id(KNOWN_TOKEN) == verified.token_id
    assert tokens.key_id_of(KNOWN_TOKEN) == 0x0123456789ABCDEF


@settings(max_examples=200)
@given(kind=kinds, subject=subjects, ttl=ttls, issued=times, key_id=st.integers(1, 2**63 - 1))
def test_a_token_verifies_as_what_was_issued(kind: str, subject: bytes | uuid.UUID, ttl: int, issued: int,
                                             key_id: int) -> None:
    signer = Signer(key_id, SIGNER.public_key, SIGNER._private)
    token = tokens.issue(signer, kind=kind, subject=subject, ttl_seconds=ttl, now=issued)
    assert len(token) == tokens.TOKEN_LENGTH
    assert set(token) <= QR_ALPHANUMERIC
    verified = tokens.verify(token, {key_id: signer.public_key}, kind=kind, now=issued)
    raw_subject = subject.bytes if isinstance(subject, uuid.UUID) else subject
    assert (verified.kind, verified.subject, verified.issued_at, verified.expires_at, verified.key_id) == (
        kind, raw_subject, issued, issued + ttl, key_id)
    assert verified.token_id == tokens.token_id(token)


def test_a_real_name_token_lives_ten_minutes_unless_told_otherwise() -> None:
    assert tokens.KINDS["realname"].default_ttl_seconds == 600
    assert tokens.verify(GOOD, KEYS, kind="realname", now=NOW).expires_at == NOW + 600
    longer = tokens.issue(SIGNER, kind="realname", subject=SUBJECT, ttl_seconds=3600, now=NOW)
    assert tokens.verify(longer, KEYS, kind="realname", now=NOW).expires_at == NOW + 3600


def test_a_scanned_token_may_be_lower_case_and_padded_with_whitespace() -> None:
    for scanned in (GOOD.lower(), f"  {GOOD}\r\n", f"\t{GOOD.lower()} ", GOOD[:77] + GOOD[77:].lower()):
        verified = tokens.verify(scanned, KEYS, kind="realname", now=NOW)
        assert verified.subject_uuid == SUBJECT
        assert tokens.token_id(scanned) == verified.token_id


def test_every_single_character_change_to_a_base32_character_is_refused() -> None:
    # Exhaustive over the alphabet: 154 positions × 31 other characters.
    for position, original in enumerate(GOOD):
        for replacement in B32:
            if replacement != original:
                changed = GOOD[:position] + replacement + GOOD[position + 1:]
                assert reason(changed) in {"token_format", "token_signature"}, (position, replacement)


@given(where=st.data(), replacement=st.characters())
def test_any_single_character_change_is_refused_never_accepted(where: st.DataObject, replacement: str) -> None:
    position = where.draw(st.integers(0, len(GOOD) - 1))
    if replacement.upper() == GOOD[position]:
        return  # the same character in lower case is the same token
    changed = GOOD[:position] + replacement + GOOD[position + 1:]
    assert reason(changed) in {"token_format", "token_signature"}


def test_the_last_character_must_be_canonical() -> None:
    # 96 bytes leave 2 unused bits in the last character; a string that sets them is another string for
    # the same bytes, so it is refused rather than read as the same token.
    last = B32.index(GOOD[-1])
    assert last % 4 == 0
    for unused in (1, 2, 3):
        assert reason(GOOD[:-1] + B32[last + unused]) == "token_format"


@pytest.mark.parametrize("text", ["", " ", GOOD[:-1], GOOD + "A", GOOD + "=" * 6, GOOD[:-8] + "========",
                                  GOOD[:80] + " " + GOOD[81:], "1" + GOOD[1:], "ſ" + GOOD[1:]])
def test_text_that_is_not_a_token_is_a_format_error(text: str) -> None:
    assert reason(text) == "token_format"


@pytest.mark.parametrize(("lookalike", "letter"), [("ſ", "S"), ("\u212a", "K"), ("ı", "I"), ("ｓ", "S")])
def test_a_unicode_letter_that_folds_to_a_base32_letter_is_not_that_letter(lookalike: str, letter: str) -> None:
    keys = {0x0123456789ABCDEF: signing.public_of(ED_SECRET)}
    tokens.verify(KNOWN_TOKEN, keys, kind="realname", now=NOW)
    position = KNOWN_TOKEN.index(letter)
    changed = KNOWN_TOKEN[:position] + lookalike + KNOWN_TOKEN[position + 1:]
    assert reason(changed, keys=keys) == "token_format"


def test_a_token_must_be_a_string() -> None:
    assert reason(None) == "token_format"  # type: ignore[arg-type]
    assert reason(GOOD.encode()) == "token_format"  # type: ignore[arg-type]


def _signed(head: int) -> str:
    payload = struct.pack(">BQI", head, SIGNER.key_id, NOW) + (600).to_bytes(3, "big") + SUBJECT.bytes
    return base64.b32encode(payload + SIGNER.sign(tokens.CONTEXT + payload)).decode().rstrip("=")


@pytest.mark.parametrize("head", [0 << 4 | 1, 2 << 4 | 1, 15 << 4 | 2, 1 << 4 | 0, 1 << 4 | 9])
def test_a_correctly_signed_token_of_another_version_or_an_unknown_kind_is_a_format_error(head: int) -> None:
    assert reason(_signed(head)) == "token_format"


@given(issued=kinds, expected=kinds)
def test_a_token_of_another_kind_is_refused_as_such(issued: str, expected: str) -> None:
    token = tokens.issue(SIGNER, kind=issued, subject=SUBJECT, now=NOW)
    if issued == expected:
        assert tokens.verify(token, KEYS, kind=expected, now=NOW).kind == expected
    else:
        assert reason(token, kind=expected) == "token_kind"


def test_a_courier_token_is_not_a_real_name_token() -> None:
    courier = tokens.issue(SIGNER, kind="courier", subject=SUBJECT, now=NOW)
    assert reason(courier, kind="realname") == "token_kind"


def test_a_forged_token_learns_nothing_about_kind_or_time() -> None:
    # A token signed by a key the verifier does not trust, of the wrong kind and long expired: the
    # signature is judged first.
    stranger = Signer(SIGNER.key_id, SIGNER.public_key, signing.generate()[0])
    forged = tokens.issue(stranger, kind="courier", subject=SUBJECT, ttl_seconds=1, now=NOW - 10_000)
    assert reason(forged, kind="realname") == "token_signature"


@given(ttl=ttls, leeway=st.integers(0, 3600), issued=st.integers(10_000, 2**32 - 1))
def test_a_token_is_valid_from_issue_minus_leeway_until_expiry_plus_leeway(ttl: int, leeway: int,
                                                                          issued: int) -> None:
    token = tokens.issue(SIGNER, kind="label", subject=SUBJECT, ttl_seconds=ttl, now=issued + 0.999)
    expires = issued + ttl

    def check(now: float) -> None:
        tokens.verify(token, KEYS, kind="label", now=now, leeway_seconds=leeway)

    check(issued - leeway)
    check(expires + leeway - 0.001)
    assert reason(token, kind="label", now=expires + leeway, leeway_seconds=leeway) == "token_expired"
    assert reason(token, kind="label", now=issued - leeway - 0.001, leeway_seconds=leeway) == "token_not_yet_valid"


def test_the_default_leeway_is_thirty_seconds() -> None:
    tokens.verify(GOOD, KEYS, kind="realname", now=NOW + 600 + 29.9)
    assert reason(GOOD, now=NOW + 600 + 30) == "token_expired"
    tokens.verify(GOOD, KEYS, kind="realname", now=NOW - 30)
    assert reason(GOOD, now=NOW - 30.5) == "token_not_yet_valid"


def test_verify_reads_the_clock_when_not_told_the_time() -> None:
    fresh = tokens.issue(SIGNER, kind="realname", subject=SUBJECT)
    assert tokens.verify(fresh, KEYS, kind="realname").subject_uuid == SUBJECT
    assert reason(GOOD, now=NOW + 10**6) == "token_expired"


def test_a_token_signed_by_an_unknown_key_is_refused() -> None:
    assert reason(GOOD, keys={}) == "token_signature"
    assert reason(GOOD, keys={SIGNER.key_id + 1: SIGNER.public_key}) == "token_signature"
    # the right id but another key's public half
    assert reason(GOOD, keys={SIGNER.key_id: new_signer(SIGNER.key_id).public_key}) == "token_signature"
    assert reason(GOOD, keys={SIGNER.key_id: b"\x00" * 31}) == "token_signature"


def test_after_rotation_an_old_token_verifies_while_its_key_is_listed() -> None:
    old, new = new_signer(100), new_signer(101)
    old_token = tokens.issue(old, kind="courier", subject=SUBJECT, now=NOW)
    new_token = tokens.issue(new, kind="courier", subject=SUBJECT, now=NOW)
    both = {new.key_id: new.public_key, old.key_id: old.public_key}
    assert tokens.verify(old_token, both, kind="courier", now=NOW).key_id == old.key_id
    assert tokens.verify(new_token, both, kind="courier", now=NOW).key_id == new.key_id
    assert tokens.key_id_of(old_token) == old.key_id
    retired = {new.key_id: new.public_key}
    assert reason(old_token, kind="courier", keys=retired) == "token_signature"
    tokens.verify(new_token, retired, kind="courier", now=NOW)


def test_a_refreshed_token_is_a_new_token_for_the_same_subject() -> None:
    later = tokens.issue(SIGNER, kind="realname", subject=SUBJECT, now=NOW + 300)
    assert later != GOOD
    assert tokens.token_id(later) != tokens.token_id(GOOD)
    assert tokens.verify(later, KEYS, kind="realname", now=NOW + 700).subject == SUBJECT.bytes
    assert reason(GOOD, now=NOW + 700) == "token_expired"


@given(subject=st.uuids(), kind=kinds)
def test_the_token_text_never_shows_the_subject(subject: uuid.UUID, kind: str) -> None:
    token = tokens.issue(SIGNER, kind=kind, subject=subject, now=NOW)
    for form in (str(subject), subject.hex, subject.hex.upper(), str(subject).upper(),
                 base64.b32encode(subject.bytes).decode().rstrip("=")):
        assert form not in token


def test_refusals_and_results_never_print_the_token_or_subject() -> None:
    for bad, kind in ((GOOD[:-1], "realname"), (GOOD, "courier"), (GOOD + "x", "label")):
        with pytest.raises(TokenInvalid) as refused:
            tokens.verify(bad, KEYS, kind=kind, now=NOW)
        shown = str(refused.value) + repr(refused.value)
        assert refused.value.reason in tokens.REASONS
        for secret in (GOOD, GOOD[:20], GOOD[-20:], str(SUBJECT), SUBJECT.hex):
            assert secret.lower() not in shown.lower()
    verified = tokens.verify(GOOD, KEYS, kind="realname", now=NOW)
    assert SUBJECT.hex not in repr(verified) and str(SUBJECT) not in repr(verified)


def test_issuing_refuses_what_the_format_cannot_hold() -> None:
    with pytest.raises(ValueError):
        tokens.issue(SIGNER, kind="parcel", subject=SUBJECT)
    with pytest.raises(ValueError):
        tokens.issue(SIGNER, kind="realname", subject=b"short")
    for ttl in (0, -1, tokens.MAX_TTL_SECONDS + 1):
        with pytest.raises(ValueError):
            tokens.issue(SIGNER, kind="realname", subject=SUBJECT, ttl_seconds=ttl)
    for now in (-1, 2**32):
        with pytest.raises(ValueError):
            tokens.issue(SIGNER, kind="realname", subject=SUBJECT, now=now)
    with pytest.raises(ValueError):
        tokens.verify(GOOD, KEYS, kind="parcel")
    with pytest.raises(ValueError):
        tokens.verify(GOOD, KEYS, kind="realname", leeway_seconds=-1)


def test_format_only_helpers_refuse_text_that_is_not_a_token() -> None:
    for helper in (tokens.token_id, tokens.key_id_of):
        with pytest.raises(TokenInvalid) as refused:
            helper("not a token")
        assert refused.value.reason == "token_format"


# ISO/IEC 18004:2015 Table 7: data codewords of versions 5 and 6; alphanumeric mode with a 9-bit count.
DATA_CODEWORDS = {("5", "L"): 108, ("5", "M"): 86, ("6", "L"): 136, ("6", "M"): 108, ("7", "M"): 124}


def alphanumeric_bits(characters: int) -> int:
    return 4 + 9 + 11 * (characters // 2) + 6 * (characters % 2)  # ISO/IEC 18004:2015 §7.4.4


def test_a_token_fits_a_version_6_m_qr_code_in_alphanumeric_mode() -> None:
    assert alphanumeric_bits(tokens.TOKEN_LENGTH) <= 8 * DATA_CODEWORDS[("6", "M")]
    assert alphanumeric_bits(tokens.TOKEN_LENGTH) <= 8 * DATA_CODEWORDS[("5", "L")]
    # one more byte in the layout (156 characters) would need version 7 at level M
    assert alphanumeric_bits(156) > 8 * DATA_CODEWORDS[("6", "M")]
