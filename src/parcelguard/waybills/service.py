"""Allocating waybill numbers (a per-carrier database counter, permuted by the carrier's key), and the
signed tokens that label QR codes carry.

On PostgreSQL counters come in blocks of BLOCK from the sequence `waybill_blocks` (made by migration
0003): `nextval` takes no lock and does not wait for the caller's transaction, so concurrent intakes
never queue on a counter row, and it runs on the caller's own connection (a second connection per
request would exhaust the pool under load). Blocks are global, so every carrier's counters stay
unique; a block a process does not use up is a gap, which the permutation hides. SQLite lets one
writer in at a time anyway: there the carrier's counter row moves in the caller's transaction, by
exactly what it takes (a rollback gives the numbers back).
"""

from __future__ import annotations

import threading
import uuid

from sqlalchemy import Connection, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from parcelguard.core.errors import Invalid
from parcelguard.crypto import tokens
from parcelguard.crypto.keyring import Keyring
from parcelguard.waybills.models import WaybillCounter
from parcelguard.waybills.numbers import WaybillNumbers

KEY_PURPOSE = "waybill_numbers"
LABEL_TOKEN_PURPOSE = "label_tokens"
# A label found long after its journey is still evidence: investigation reads a genuine token of any age.
_ANY_AGE = 20 * 365 * 24 * 3600
BLOCK = 100

_lock = threading.Lock()
_blocks: dict[tuple[int, uuid.UUID], tuple[int, int]] = {}  # (engine, carrier) -> [next, end)
_numberers: dict[tuple[uuid.UUID, str], WaybillNumbers] = {}


def allocate(*, db_session: Session, keyring: Keyring, carrier_id: uuid.UUID, prefix: str, count: int = 1) -> list[str]:
    """`count` fresh waybill numbers of the carrier."""
    numberer = _numberers.get((carrier_id, prefix))
    if numberer is None:
        numberer = WaybillNumbers(keyring.stable_key(db_session=db_session, carrier_id=carrier_id,
                                                     purpose=KEY_PURPOSE), prefix)
        _numberers[(carrier_id, prefix)] = numberer
    return [numberer.format(counter) for counter in _counters(db_session, carrier_id, count)]


def _counters(db_session: Session, carrier_id: uuid.UUID, count: int) -> list[int]:
    connection = db_session.connection()
    if connection.dialect.name != "postgresql":
        start, end = _take(connection, carrier_id, count)
        return list(range(start, end))
    key = (id(db_session.get_bind()), carrier_id)
    out: list[int] = []
    while len(out) < count:
        with _lock:
            start, end = _blocks.get(key, (0, 0))
            take = min(end - start, count - len(out))
            if take > 0:
                _blocks[key] = (start + take, end)
        if take > 0:
            out.extend(range(start, start + take))
            continue
        blocks = -(-(count - len(out)) // BLOCK)  # whole blocks for what is still missing
        numbers = connection.execute(text("SELECT nextval('waybill_blocks') FROM generate_series(1, :n)"),
                                     {"n": blocks}).scalars().all()
        fresh = [(n * BLOCK, (n + 1) * BLOCK) for n in numbers]
        for start, end in fresh[:-1]:
            out.extend(range(start, end))
        with _lock:  # the last block goes to the cache; whatever another thread left there is dropped
            _blocks[key] = fresh[-1]
    return out[:count]


def _take(conn: Connection, carrier_id: uuid.UUID, size: int) -> tuple[int, int]:
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(insert(WaybillCounter).values(carrier_id=carrier_id, next_value=1).on_conflict_do_nothing())
    end = conn.execute(update(WaybillCounter).where(WaybillCounter.carrier_id == carrier_id)
                       .values(next_value=WaybillCounter.next_value + size)
                       .returning(WaybillCounter.next_value)).scalar_one()
    return int(end) - size, int(end)


# -- label tokens ---------------------------------------------------------------------------------

def label_token(*, db_session: Session, keyring: Keyring, carrier_id: uuid.UUID, subject: uuid.UUID) -> str:
    """A fresh signed token for a label's QR code (`crypto.tokens`, kind `label`, 30 days). The subject is
    the shipment's random label subject: the token carries no waybill number and nothing personal."""
    signer = keyring.signing_key(db_session=db_session, carrier_id=carrier_id, purpose=LABEL_TOKEN_PURPOSE)
    return tokens.issue(signer, kind="label", subject=subject)


def label_subject(*, db_session: Session, keyring: Keyring, carrier_id: uuid.UUID, token: str,
                  any_age: bool = False, field: str = "/token") -> uuid.UUID:
    """The label subject a scanned token names, if the carrier signed it and it is in its time (or, with
    `any_age`, of any age: an investigator's found label). `Invalid` with the token's reason code
    (`token_format`, `token_signature`, `token_expired`, ...) otherwise; the message never holds the token."""
    keys = keyring.public_keys(db_session=db_session, carrier_id=carrier_id, purpose=LABEL_TOKEN_PURPOSE)
    try:
        verified = tokens.verify(token, keys, kind="label", leeway_seconds=_ANY_AGE if any_age else 30)
    except tokens.TokenInvalid as exc:
        raise Invalid("The label's QR code cannot be used: " + tokens.REASONS[exc.reason] + ".", code=exc.reason,
                      field=field) from None
    return verified.subject_uuid

