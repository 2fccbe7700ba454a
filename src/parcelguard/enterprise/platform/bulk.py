"""Bulk orders (issue 16): a file of up to 10,000 parcels imported at once, then sent to the carrier in chunks.
No HTTP.

`import_file` reads and checks every row (`bulk_parse`), prices the good ones with the connection's table in force
and writes them as `pending` orders, as `orders.place` writes one (sealed, blind-indexed, masked), each keeping its
row of the file, and the refused rows with why, in one transaction: every good row or none. An import's rows are
its orders and its refusals: an accepted row's state is its order's, kept once. `send_import` then sends what is
still pending, up to `MAX_BATCH` parcels a call, writing each chunk's answers and the import's counters in a
transaction of its own, so the page sees the progress and a stopped send resumes with what is left. A carrier that
does not answer leaves the rest pending and the import `sending`; sending it again is safe (the carrier answers a
parcel it has by its reference, the console's order id).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import bindparam, cast, func, null, select, union_all, update
from sqlalchemy.orm import Session

from parcelguard.core.auth import Actor
from parcelguard.core.clock import now
from parcelguard.core.db import begin_write, bulk_insert
from parcelguard.core.errors import Invalid, NotFound
from parcelguard.enterprise.adapters.base import MAX_BATCH, CarrierError, Created
from parcelguard.enterprise.platform import connections, employees, orders, rate_tables
from parcelguard.enterprise.platform.bulk_parse import RowError, Sender, read
from parcelguard.enterprise.platform.keys import EnterpriseKeys
from parcelguard.enterprise.platform.models import Order, OrderImport, OrderImportRow
from parcelguard.enterprise.rates import pricing
from parcelguard.enterprise.rates.model import beijing_date

ROW_STATUSES = ("pending", "created", "failed", "cancelled", "refused")


@dataclass(frozen=True)
class ImportRow:
    """One data row of an import: its order (None when refused) and state, the checks it failed (refused) or the
    carrier's `failure_code` (failed)."""

    row_number: int
    status: str
    order: Order | None
    errors: list[dict[str, object]]

    @property
    def failure_code(self) -> str | None:
        return self.order.failure_code if self.order is not None else None


@dataclass(frozen=True)
class Imported:
    job: OrderImport
    refused: list[tuple[int, list[RowError]]]  # row number, its problems


def import_file(*, sessionmaker: Callable[[], Session], keys: EnterpriseKeys, actor: Actor, connection_id: uuid.UUID,
                sender: Sender, file_name: str, data: bytes) -> Imported:
    """Check, price and keep the file's orders (see the module's docstring); the import is `queued`."""
    company_id = employees.company_of(actor)
    parsed = read(data, file_name=file_name, connection_id=connection_id, sender=sender)
    moment, import_id = now(), uuid.uuid4()
    with sessionmaker() as session, session.begin():
        begin_write(session)
        connection = connections.usable(db_session=session, company_id=company_id, connection_id=connection_id)
        table = rate_tables.in_force(db_session=session, company_id=company_id, on=beijing_date(moment)).get(
            connection.id)
        if table is None:
            raise Invalid("This carrier has no rate table in force.", code="carrier_cannot_take",
                          field="/connection_id")
        order_rows: list[dict[str, object]] = []
        refused_rows: list[dict[str, object]] = []
        refused: list[tuple[int, list[RowError]]] = []
        for row in parsed.rows:
            problems = list(row.errors)
            quote = None
            if row.order is not None:
                o = row.order
                quote = pricing.price(table, o.sender_province, o.recipient_province, o.recipient_city, o.weight_g)
                if quote is None:
                    problems.append(parsed.error(row.row, "recipient_province", "carrier_cannot_take"))
            if problems or row.order is None or quote is None:
                refused.append((row.row, problems))
                refused_rows.append({"import_id": import_id, "row_number": row.row,
                                     "errors": json.dumps([p.as_dict() for p in problems], ensure_ascii=False)})
                continue
            order_rows.append(orders.order_values(
                keys=keys, company_id=company_id, connection_id=connection.id, order=row.order,
                price_fen=quote.total_fen, created_by=actor.user_id, moment=moment, import_id=import_id,
                import_row=row.row))
        job = OrderImport(id=import_id, company_id=company_id, connection_id=connection.id,
                          file_name=file_name[:200], file_sha256=hashlib.sha256(data).digest(),
                          rows=len(parsed.rows), accepted=len(order_rows), refused=len(refused), sent=0, created=0,
                          failed=0, status="queued" if order_rows else "done", created_by=actor.user_id,
                          created_at=moment, finished_at=None if order_rows else moment)
        session.add(job)
        session.flush()  # before its orders, which name it
        bulk_insert(session, Order, order_rows)
        bulk_insert(session, OrderImportRow, refused_rows)
        session.expunge(job)
    return Imported(job, refused)


def get(*, db_session: Session, company_id: uuid.UUID, import_id: uuid.UUID) -> OrderImport:
    found = db_session.get(OrderImport, import_id)
    if found is None or found.company_id != company_id:
        raise NotFound("The company has no import with this id.", code="import_unknown")
    return found


def listed(*, db_session: Session, company_id: uuid.UUID, offset: int, limit: int) -> list[OrderImport]:
    """The company's imports, newest first."""
    return list(db_session.scalars(select(OrderImport).where(OrderImport.company_id == company_id)
                                   .order_by(OrderImport.created_at.desc(), OrderImport.id)
                                   .offset(offset).limit(limit)))


def rows(*, db_session: Session, company_id: uuid.UUID, import_id: uuid.UUID, status: str | None, offset: int,
         limit: int) -> list[ImportRow]:
    """The import's rows in file order (its orders and its refusals), those of one status when asked."""
    get(db_session=db_session, company_id=company_id, import_id=import_id)
    taken = (select(Order.import_row.label("row_number"), Order.id.label("order_id"), null().label("errors"))
             .where(Order.import_id == import_id))
    if status not in (None, "refused"):
        taken = taken.where(Order.status == status)
    refusals = (select(OrderImportRow.row_number, cast(null(), Order.id.type).label("order_id"),
                       OrderImportRow.errors).where(OrderImportRow.import_id == import_id))
    both = refusals if status == "refused" else taken if status is not None else union_all(taken, refusals)
    page = db_session.execute(select(both.subquery()).order_by("row_number").offset(offset).limit(limit)).all()
    ids = [order_id for _, order_id, _ in page if order_id is not None]
    found = {o.id: o for o in db_session.scalars(select(Order).where(Order.id.in_(ids)))} if ids else {}
    return [ImportRow(number, found[order_id].status, found[order_id], []) if order_id is not None
            else ImportRow(number, "refused", None, json.loads(errors)) for number, order_id, errors in page]


def send_import(*, sessionmaker: Callable[[], Session], keys: EnterpriseKeys, adapter_for: orders.AdapterFor,
                import_id: uuid.UUID, company_id: uuid.UUID | None = None) -> OrderImport:
    """Send the import's pending orders, a chunk a call, until none is left (`done`) or the carrier stops
    answering (left `sending`). `company_id`, when given, must be the import's (404 otherwise)."""
    while True:
        with sessionmaker() as session, session.begin():
            begin_write(session)
            job = session.get(OrderImport, import_id)
            if job is None or (company_id is not None and job.company_id != company_id):
                raise NotFound("The company has no import with this id.", code="import_unknown")
            pending = list(session.scalars(
                select(Order).where(Order.import_id == import_id, Order.status == "pending")
                .order_by(Order.import_row).limit(MAX_BATCH)))
            if not pending:
                job.status, job.finished_at = "done", job.finished_at or now()
                session.flush()
                session.expunge(job)
                return job
            job.status = "sending"
            connection = connections.get(db_session=session, company_id=job.company_id,
                                         connection_id=job.connection_id)
            shipments = [orders.shipment_of(keys, o) for o in pending]
            ids = [o.id for o in pending]
            session.expunge_all()
        try:
            answers = adapter_for(connection).create_shipments(shipments)
        except CarrierError:
            return _progress(sessionmaker, import_id)  # whole call failed: the rest waits, `sending`
        _write_answers(sessionmaker, import_id, ids, answers)


def _write_answers(sessionmaker: Callable[[], Session], import_id: uuid.UUID, ids: list[uuid.UUID],
                   answers: list[Created | CarrierError]) -> None:
    """One chunk's answers (only to orders still pending: a second sender changes nothing) and the counters."""
    moment = now()
    order_updates = []
    for order_id, answer in zip(ids, answers, strict=True):
        if isinstance(answer, Created):
            order_updates.append({"b_id": order_id, "b_status": "created", "b_shipment": answer.carrier_shipment_id,
                                  "b_waybill": answer.waybill_no, "b_failure": None, "b_at": moment})
        else:
            order_updates.append({"b_id": order_id, "b_status": "failed", "b_shipment": None, "b_waybill": None,
                                  "b_failure": answer.code, "b_at": moment})
    orders_table = Order.__table__
    with sessionmaker() as session, session.begin():
        begin_write(session)
        session.connection().execute(
            update(orders_table).where(orders_table.c.id == bindparam("b_id"), orders_table.c.status == "pending")
            .values(status=bindparam("b_status"), carrier_shipment_id=bindparam("b_shipment"),
                    waybill_no=bindparam("b_waybill"), failure_code=bindparam("b_failure"),
                    updated_at=bindparam("b_at")), order_updates)
        _count(session, import_id)


def _count(session: Session, import_id: uuid.UUID) -> OrderImport:
    """The import's counters, counted (not added to), so two senders at once cannot count a parcel twice."""
    job = session.get(OrderImport, import_id)
    assert job is not None
    counts = dict(session.execute(select(Order.status, func.count()).where(
        Order.import_id == import_id).group_by(Order.status)).all())
    job.created = counts.get("created", 0) + counts.get("cancelled", 0)  # cancelled after the carrier made it
    job.failed = counts.get("failed", 0)
    job.sent = job.created + job.failed
    if not counts.get("pending"):
        job.status, job.finished_at = "done", job.finished_at or now()
    session.flush()
    return job


def _progress(sessionmaker: Callable[[], Session], import_id: uuid.UUID) -> OrderImport:
    with sessionmaker() as session, session.begin():
        begin_write(session)
        job = _count(session, import_id)
        session.expunge(job)
    return job


__all__ = ["ROW_STATUSES", "ImportRow", "Imported", "Sender", "get", "import_file", "listed", "rows", "send_import"]
