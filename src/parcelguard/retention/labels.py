"""Label tokens' end (issue 15, class `label_token`, mechanism `expire`): a label's QR token verifies while the key
version that signed it is kept (an investigator's found label, at any age). So the versions turn over monthly and
go when their retention is over, and every token they signed stops verifying. Knows nothing of HTTP.

- Each retention run makes a new version of the carrier's `label_tokens` key primary when the primary was made in
  an earlier UTC month (`Keyring.rotate_signing_key`; older versions stay and verify).
- A version stopped signing when the next one was made: a version that stopped in month `P` goes when `P` is past
  `label_token`'s retention (`service.expiry`). It is deleted, public key and wrapped private key, in one
  transaction with a signed destruction record (mechanism `expire`, the key ids).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from itertools import pairwise

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from parcelguard.crypto.keyring import Keyring
from parcelguard.crypto.models import SigningKey
from parcelguard.waybills.service import LABEL_TOKEN_PURPOSE


def stopped(db_session: Session, carrier_id: uuid.UUID) -> list[tuple[int, str]]:
    """(key id, month `YYYY-MM` it stopped signing) of every superseded version, oldest first."""
    rows = list(db_session.execute(select(SigningKey.id, SigningKey.version, SigningKey.created_at).where(
        SigningKey.carrier_id == carrier_id, SigningKey.purpose == LABEL_TOKEN_PURPOSE).order_by(SigningKey.version)))
    return [(key_id, later.strftime("%Y-%m")) for (key_id, _, _), (_, _, later) in pairwise(rows)]


def turn_over(db_session: Session, keyring: Keyring, carrier_id: uuid.UUID, at: datetime) -> bool:
    """A new primary version when the carrier's was made before `at`'s month (now: a run for a later time does
    not make keys for it); answers whether it made one."""
    primary = db_session.scalar(select(SigningKey.created_at).where(
        SigningKey.carrier_id == carrier_id, SigningKey.purpose == LABEL_TOKEN_PURPOSE)
        .order_by(SigningKey.version.desc()).limit(1))
    if primary is None or (primary.year, primary.month) >= (at.year, at.month):
        return False
    keyring.rotate_signing_key(db_session=db_session, carrier_id=carrier_id, purpose=LABEL_TOKEN_PURPOSE)
    return True


def destroy(db_session: Session, carrier_id: uuid.UUID, key_ids: list[int]) -> int:
    return int(db_session.execute(delete(SigningKey).where(
        SigningKey.carrier_id == carrier_id, SigningKey.id.in_(key_ids))).rowcount or 0)
