"""Reading and acknowledging alerts: HQ security sees the carrier's, a station manager those about the station's
own staff. A reader may narrow the list by kind, by the station of the account an alert is about, by that account
(username or id) and by status (open, acknowledged or all); a filter never widens a station manager's scope.
Raising an alert stays with the gate (`service.raise_alert`). Knows nothing of HTTP.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from parcelguard.accounts import service as accounts
from parcelguard.accounts import staff
from parcelguard.audit.models import Alert
from parcelguard.core.auth import Actor, Role
from parcelguard.core.clock import now
from parcelguard.core.errors import DomainError, Invalid, NotFound

KIND = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class Status(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    ALL = "all"


@dataclass(frozen=True)
class AlertFilter:
    """Which alerts to list; None (or `all`) leaves that side open."""

    kind: str | None = None
    station_id: uuid.UUID | None = None
    actor_id: uuid.UUID | None = None
    status: Status = Status.OPEN


def parse_filter(*, db_session: Session, actor: Actor, kind: str | None = None, station: str | None = None,
                 who: str | None = None, status: str | None = None) -> AlertFilter:
    """A filter from what a person types: a kind, a station by id or code, an account by username or id, and a
    status. A station or account of another carrier is unknown here, as one that does not exist (422)."""
    carrier_id = _carrier(actor)
    kind = (kind or "").strip() or None
    if kind is not None and not KIND.match(kind):
        raise Invalid("An alert kind is a lowercase word such as rate_exceeded.", code="kind_format",
                      field="#query/kind")
    status = (status or "").strip() or Status.OPEN.value
    if status not in Status._value2member_map_:
        raise Invalid("A status is open, acknowledged or all.", code="status_unknown", field="#query/status")
    return AlertFilter(kind=kind, station_id=_station(db_session, carrier_id, (station or "").strip()),
                       actor_id=_account(db_session, carrier_id, (who or "").strip()), status=Status(status))


def _station(db_session: Session, carrier_id: uuid.UUID, station: str) -> uuid.UUID | None:
    if not station:
        return None
    try:
        by_id: uuid.UUID | None = uuid.UUID(station)
    except ValueError:
        by_id = None
    try:
        if by_id is not None:
            return accounts.get_station(db_session=db_session, carrier_id=carrier_id, station_id=by_id).id
        return accounts.get_station_by_code(db_session=db_session, carrier_id=carrier_id, code=station[:32]).id
    except DomainError:
        raise Invalid("No station of this carrier has this id or code.", code="station_unknown",
                      field="#query/station") from None


def _account(db_session: Session, carrier_id: uuid.UUID, who: str) -> uuid.UUID | None:
    if not who:
        return None
    try:
        user_id = uuid.UUID(who)
    except ValueError:
        user = accounts.get_user_by_username(db_session=db_session, username=who[:64])
        user_id = user.id if user is not None and user.carrier_id == carrier_id else None
    else:
        try:
            accounts.get_user(db_session=db_session, carrier_id=carrier_id, user_id=user_id)
        except DomainError:
            user_id = None
    if user_id is None:
        raise Invalid("No account of this carrier has this username or id.", code="actor_unknown",
                      field="#query/actor")
    return user_id


def list_alerts(*, db_session: Session, actor: Actor, open_only: bool = True, limit: int = 100,
                where: AlertFilter | None = None) -> list[Alert]:
    """HQ security sees the carrier's alerts; a station manager those about the station's own staff. Newest first.
    Without `where`, `open_only` picks open alerts or all of them; with it, its status does."""
    query = select(Alert).where(Alert.carrier_id == _carrier(actor))
    if actor.role == Role.STATION_MANAGER:
        query = query.where(Alert.actor_id.in_(staff.station_user_ids(db_session=db_session, actor=actor)))
    status = where.status if where is not None else (Status.OPEN if open_only else Status.ALL)
    if status == Status.OPEN:
        query = query.where(Alert.acknowledged_at.is_(None))
    elif status == Status.ACKNOWLEDGED:
        query = query.where(Alert.acknowledged_at.is_not(None))
    if where is not None:
        if where.kind is not None:
            query = query.where(Alert.kind == where.kind)
        if where.actor_id is not None:
            query = query.where(Alert.actor_id == where.actor_id)
        if where.station_id is not None:
            # The accounts of that station, read through the staff service as its manager's would be.
            station_actor = dataclasses.replace(actor, station_id=where.station_id)
            query = query.where(Alert.actor_id.in_(staff.station_user_ids(db_session=db_session,
                                                                         actor=station_actor)))
    return list(db_session.scalars(query.order_by(Alert.raised_at.desc()).limit(limit)))


def acknowledge_alert(*, db_session: Session, actor: Actor, alert_id: uuid.UUID) -> Alert:
    carrier_id = _carrier(actor)
    alert = db_session.scalar(select(Alert).where(Alert.id == alert_id, Alert.carrier_id == carrier_id))
    if alert is None or (actor.role == Role.STATION_MANAGER and alert.actor_id not in staff.station_user_ids(
            db_session=db_session, actor=actor)):
        raise NotFound("No such alert.", code="alert_unknown")
    db_session.execute(update(Alert).where(Alert.id == alert_id, Alert.acknowledged_at.is_(None))
                       .values(acknowledged_at=now(), acknowledged_by=actor.user_id))
    db_session.refresh(alert)
    return alert


def _carrier(actor: Actor) -> uuid.UUID:
    if actor.carrier_id is None:
        raise NotFound("There is nothing here for an account outside a carrier.", code="carrier_unknown")
    return actor.carrier_id


def get_alert(*, db_session: Session, carrier_id: uuid.UUID, alert_id: uuid.UUID) -> Alert | None:
    """One of the carrier's alerts, None when it has no such alert."""
    return db_session.scalar(select(Alert).where(Alert.id == alert_id, Alert.carrier_id == carrier_id))
