"""A station's staff as its manager sees them: who they are (masked), whether they may work, when and on
which terminal they last signed in; and retiring an account (its tokens stop at once). Knows nothing of
HTTP."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from parcelguard.accounts import auth_epoch
from parcelguard.accounts.models import AuthToken, Terminal, User
from parcelguard.core.auth import Actor, Role
from parcelguard.core.clock import now
from parcelguard.core.errors import Forbidden, Invalid, NotFound
from parcelguard.waybills.masking import mask_name

# Whom a station manager keeps: the station's field staff (not other managers, not HQ).
FIELD_ROLES = frozenset({Role.COURIER, Role.SORTER})
MANAGERS = frozenset({Role.STATION_MANAGER, Role.HQ_SECURITY, Role.ADMIN})


@dataclass(frozen=True)
class StaffMember:
    user_id: uuid.UUID
    username: str
    role: str
    name: str  # masked
    active: bool
    last_sign_in: datetime | None
    last_terminal: str | None  # the terminal's label and serial, when the last sign-in was on one


def _station_of(actor: Actor, station_id: uuid.UUID | None) -> uuid.UUID:
    if actor.role not in MANAGERS or actor.carrier_id is None:
        raise Forbidden("Station managers and HQ keep staff.", code="role_not_allowed")
    if actor.role == Role.STATION_MANAGER:
        assert actor.station_id is not None
        return actor.station_id
    if station_id is None:
        raise Invalid("Name the station.", code="station_required", field="/station_id")
    return station_id


def station_staff(*, db_session: Session, actor: Actor, station_id: uuid.UUID | None = None) -> list[StaffMember]:
    """The field staff of the manager's station (an HQ role names the station), couriers first."""
    station = _station_of(actor, station_id)
    users = list(db_session.scalars(select(User).where(
        User.carrier_id == actor.carrier_id, User.station_id == station,
        User.role.in_([r.value for r in FIELD_ROLES])).order_by(User.role, User.username)))
    return _members(db_session, users)


def _members(db_session: Session, users: list[User]) -> list[StaffMember]:
    last = dict(db_session.execute(
        select(AuthToken.user_id, func.max(AuthToken.issued_at)).where(AuthToken.user_id.in_([u.id for u in users]))
        .group_by(AuthToken.user_id)).all()) if users else {}
    where: dict[uuid.UUID, str] = {}
    if last:
        rows = db_session.execute(
            select(AuthToken.user_id, AuthToken.issued_at, Terminal.label, Terminal.serial)
            .join(Terminal, Terminal.id == AuthToken.terminal_id)
            .where(AuthToken.user_id.in_(list(last)), AuthToken.issued_at.in_(list(last.values()))))
        where = {user_id: f"{label} ({serial})" for user_id, issued, label, serial in rows if last[user_id] == issued}
    return [StaffMember(user_id=u.id, username=u.username, role=u.role, name=mask_name(u.display_name),
                        active=u.active, last_sign_in=last.get(u.id), last_terminal=where.get(u.id)) for u in users]


def station_user_ids(*, db_session: Session, actor: Actor) -> list[uuid.UUID]:
    """Every account of the manager's station (for scoping what a manager sees, e.g. alerts)."""
    assert actor.station_id is not None
    return list(db_session.scalars(select(User.id).where(User.carrier_id == actor.carrier_id,
                                                         User.station_id == actor.station_id)))


def set_active(*, db_session: Session, actor: Actor, user_id: uuid.UUID, active: bool) -> StaffMember:
    """Retire (or reinstate) a member of the station's field staff. Retiring revokes every token the
    account holds at once: a courier who left signs in nowhere, on no terminal."""
    station = _station_of(actor, None) if actor.role == Role.STATION_MANAGER else None
    user = db_session.scalar(select(User).where(User.id == user_id, User.carrier_id == actor.carrier_id,
                                                User.role.in_([r.value for r in FIELD_ROLES])))
    if user is None or (station is not None and user.station_id != station):
        raise NotFound("No such user.", code="user_unknown")
    retiring = user.active and not active
    user.active = active
    if not active:
        db_session.execute(update(AuthToken).where(AuthToken.user_id == user.id, AuthToken.revoked_at.is_(None))
                           .values(revoked_at=now()))
        auth_epoch.bump(db_session=db_session)
    db_session.flush()
    if retiring:  # the audit on departure: their last 90 days of access (issue 14; imported here: no cycle)
        from parcelguard.detection import departures

        departures.record(db_session=db_session, carrier_id=user.carrier_id, user_id=user.id,
                          retired_by=actor.user_id)
    return _members(db_session, [user])[0]


@dataclass(frozen=True)
class Account:
    """An account as an incident names it: no name, not even masked."""

    user_id: uuid.UUID
    username: str
    role: str
    station_id: uuid.UUID | None
    active: bool


def accounts_of(*, db_session: Session, carrier_id: uuid.UUID, refs: list[str]) -> list[Account]:
    """The carrier's accounts named by username or id, in the order given; 422 `account_unknown` (naming the
    position) for one that is not the carrier's."""
    found = []
    for i, ref in enumerate(refs):
        ref = ref.strip()
        try:
            by_id: uuid.UUID | None = uuid.UUID(ref)
        except ValueError:
            by_id = None
        user = db_session.scalar(select(User).where(
            User.carrier_id == carrier_id, User.id == by_id if by_id is not None else User.username == ref[:64]))
        if user is None:
            raise Invalid("No account of this carrier has this username or id.", code="account_unknown",
                          field=f"/accounts/{i}")
        found.append(Account(user.id, user.username, user.role, user.station_id, user.active))
    return found


def accounts_by_id(*, db_session: Session, carrier_id: uuid.UUID, user_ids: list[uuid.UUID]) -> list[Account]:
    users = db_session.scalars(select(User).where(User.carrier_id == carrier_id, User.id.in_(user_ids))
                               .order_by(User.username)) if user_ids else []
    return [Account(u.id, u.username, u.role, u.station_id, u.active) for u in users]


def suspend(*, db_session: Session, carrier_id: uuid.UUID, user_ids: list[uuid.UUID]) -> int:
    """Contain accounts in an incident: disable them and revoke every token they hold, whatever their role
    (an admin's too: an incident may concern anyone). Not a departure: no departure audit, and they may be
    reinstated. Answers how many were active."""
    if not user_ids:
        return 0
    changed = db_session.execute(update(User).where(User.carrier_id == carrier_id, User.id.in_(user_ids),
                                                    User.active.is_(True)).values(active=False)).rowcount
    db_session.execute(update(AuthToken).where(AuthToken.user_id.in_(user_ids), AuthToken.revoked_at.is_(None))
                       .values(revoked_at=now()))
    auth_epoch.bump(db_session=db_session)
    return int(changed or 0)
