"""The draw's results (抽检结果) of contract customers' agreements: how many of a customer's parcels were
drawn for inspection at pickup (at random by the agreement's share, or for a restricted item), how many a
courier then inspected (and how many of those failed and were refused), how many still wait, and the
latest drawn parcels by waybill number. Knows nothing of HTTP.

Scoped as the agreements are (`service.get`): an enterprise its own, a station manager their station's, the
carrier's HQ security, auditors and admins any of the carrier's. Only numbers, reasons and statuses come
out: nothing of a sender or a recipient.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, select, true
from sqlalchemy.orm import Session

from parcelguard.contracts import service
from parcelguard.contracts.models import Agreement
from parcelguard.core.auth import Actor, Role
from parcelguard.core.errors import Forbidden

# The shipments domain has no reader by agreement: the counting lives with the agreements and reads the
# shipments model directly (one grouped query and one ranked query), as tracking/network.py does.
from parcelguard.shipments.models import Shipment

READERS = frozenset({Role.ENTERPRISE, Role.STATION_MANAGER, Role.HQ_SECURITY, Role.AUDITOR, Role.ADMIN})
DEFAULT_LATEST = 10
MAX_LATEST = 100


@dataclass(frozen=True)
class DrawnParcel:
    shipment_id: uuid.UUID
    waybill_no: str | None
    reason: str  # random: the agreement's share; restricted: an item the catalogue restricts
    status: str
    inspected: bool
    inspected_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class DrawResults:
    agreement_id: uuid.UUID
    drawn: int  # parcels drawn for inspection
    inspected: int  # of those, inspected by a courier
    refused: int  # of those inspected, failed (refused, not carried)
    latest: list[DrawnParcel]  # newest first

    @property
    def waiting(self) -> int:
        """Drawn, not inspected yet."""
        return self.drawn - self.inspected


def draw_results(*, db_session: Session, actor: Actor, agreement_ids: Sequence[uuid.UUID],
                 latest: int = DEFAULT_LATEST) -> dict[uuid.UUID, DrawResults]:
    """The draw's results of each of these agreements the actor may see (the others are left out), with
    its `latest` drawn parcels (at most MAX_LATEST)."""
    if actor.role not in READERS:
        raise Forbidden("Contract customers, station managers and the carrier's HQ read the draw's results.",
                        code="role_not_allowed")
    if actor.carrier_id is None or not agreement_ids:
        return {}
    query = select(Agreement.id, Agreement.customer_id).where(Agreement.carrier_id == actor.carrier_id,
                                                             Agreement.id.in_(set(agreement_ids)))
    if actor.role == Role.ENTERPRISE:
        query = query.where(Agreement.customer_id == actor.user_id)
    elif actor.role == Role.STATION_MANAGER:
        query = query.where(Agreement.station_id == actor.station_id)
    visible = dict(db_session.execute(query).tuples().all())
    if not visible:
        return {}
    # customer_id as well: an agreement's parcels are its customer's, and (carrier, customer) is indexed
    drawn = and_(Shipment.carrier_id == actor.carrier_id, Shipment.customer_id.in_(set(visible.values())),
                 Shipment.agreement_id.in_(list(visible)), Shipment.inspection_draw.is_not(None))
    inspected = Shipment.inspected == true()
    counts = {row[0]: row[1:] for row in db_session.execute(
        select(Shipment.agreement_id, func.count(),
               func.coalesce(func.sum(case((inspected, 1), else_=0)), 0),
               func.coalesce(func.sum(case((and_(inspected, Shipment.status == "refused"), 1), else_=0)), 0))
        .where(drawn).group_by(Shipment.agreement_id)).tuples()}
    newest: dict[uuid.UUID, list[DrawnParcel]] = {a: [] for a in visible}
    limit = max(0, min(latest, MAX_LATEST))
    if limit and counts:
        rank = func.row_number().over(partition_by=Shipment.agreement_id,
                                      order_by=(Shipment.created_at.desc(), Shipment.waybill_no.desc()))
        ranked = select(Shipment.agreement_id, Shipment.id, Shipment.waybill_no, Shipment.inspection_draw,
                        Shipment.status, Shipment.inspected, Shipment.inspected_at, Shipment.created_at,
                        rank.label("n")).where(drawn).subquery()
        for row in db_session.execute(select(ranked).where(ranked.c.n <= limit)
                                      .order_by(ranked.c.agreement_id, ranked.c.n)):
            newest[row.agreement_id].append(DrawnParcel(
                shipment_id=row.id, waybill_no=row.waybill_no, reason=row.inspection_draw, status=row.status,
                inspected=bool(row.inspected), inspected_at=row.inspected_at, created_at=row.created_at))
    results = {}
    for a in visible:
        n_drawn, n_inspected, n_refused = counts.get(a, (0, 0, 0))
        results[a] = DrawResults(agreement_id=a, drawn=int(n_drawn), inspected=int(n_inspected),
                                 refused=int(n_refused), latest=newest[a])
    return results


def draw_results_of(*, db_session: Session, actor: Actor, agreement_id: uuid.UUID,
                    latest: int = DEFAULT_LATEST) -> DrawResults:
    """One agreement's draw's results; an agreement the actor may not see is as unknown as a missing one
    (`service.get`: 404 agreement_unknown)."""
    if actor.role not in READERS:
        raise Forbidden("Contract customers, station managers and the carrier's HQ read the draw's results.",
                        code="role_not_allowed")
    row = service.get(db_session=db_session, actor=actor, agreement_id=agreement_id)
    return draw_results(db_session=db_session, actor=actor, agreement_ids=[row.id], latest=latest)[row.id]
