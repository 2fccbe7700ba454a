"""A carrier's label settings (masking policy and sorting-code table) as its admin last saved them, or
the defaults (`policy.LabelSettings()`) when it never did. Knows nothing of HTTP.

One row per carrier (`WaybillSettings`), overwritten by each save; every save is an entry in the
carrier's tamper-evident log (`audit.service.log_admin_change`, subject `settings:waybill`, purpose
`waybill_settings_change`), so who changed the labels and when can be proven, and what they were changed
to is the row.

Cache. `current` reads the row by its primary key on every call, so a save takes effect at once in every
process. Parsing a long sorting table is the costly part, so parsed settings are kept per process keyed
by the stored JSON text itself: a cached entry can never be stale, and a save rolled back leaves at worst
an unused entry.
"""

from __future__ import annotations

import functools
import uuid

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from parcelguard.audit import service as audit
from parcelguard.core.auth import Actor, Role
from parcelguard.core.clock import now
from parcelguard.core.errors import Forbidden
from parcelguard.crypto.keyring import Keyring
from parcelguard.waybills.models import WaybillSettings
from parcelguard.waybills.policy import LabelSettings

READERS = frozenset({Role.ADMIN, Role.HQ_SECURITY, Role.STATION_MANAGER})
SUBJECT, PURPOSE = "settings:waybill", "waybill_settings_change"
DEFAULTS = LabelSettings()
CACHE_SIZE = 32  # parsed settings per process; 5,000 rules take about 2 MB parsed


def current(*, db_session: Session, carrier_id: uuid.UUID) -> LabelSettings:
    """The settings the carrier's labels are printed with: one read on the primary key.

    A row edited by hand that no longer validates raises pydantic's `ValidationError`: labels are not
    printed with a policy nobody chose."""
    text = db_session.scalar(select(WaybillSettings.data).where(WaybillSettings.carrier_id == carrier_id))
    return DEFAULTS if text is None else _parsed(text)


@functools.lru_cache(maxsize=CACHE_SIZE)
def _parsed(text: str) -> LabelSettings:
    return LabelSettings.model_validate_json(text)


def save(*, db_session: Session, keyring: Keyring, actor: Actor, settings: LabelSettings,
         request_id: str | None = None) -> LabelSettings:
    """Replace the carrier's settings with `settings` (already validated: `policy.parse_settings`), and log
    it. Only the carrier's admin (403 `role_not_allowed`). The last save wins."""
    if actor.role != Role.ADMIN or actor.carrier_id is None:
        raise Forbidden("Only the carrier's admin changes its label settings.", code="role_not_allowed")
    text = settings.model_dump_json()
    values = {"data": text, "saved_by": actor.user_id, "saved_at": now()}
    insert = postgresql.insert if db_session.get_bind().dialect.name == "postgresql" else sqlite.insert
    db_session.execute(insert(WaybillSettings).values(carrier_id=actor.carrier_id, **values)
                       .on_conflict_do_update(index_elements=["carrier_id"], set_=values))
    audit.log_admin_change(db_session=db_session, keyring=keyring, actor=actor, subject=SUBJECT, purpose=PURPOSE,
                           request_id=request_id)
    return _parsed(text)
