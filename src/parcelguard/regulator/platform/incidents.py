"""Carriers' incident reports on the platform, no HTTP: take in a signed report, answer a signed receipt;
officials list them and read one, its signature verified again from the stored bytes.

Rules (docs/regulator.md, "Incident reports"), as for a batch: a report that does not parse is refused
(422, the protocol's code and pointer); so is one whose carrier or key is unknown or revoked (403
`carrier_key_unknown`) or whose signature does not verify (403 `report_signature`). Nothing is stored then.
A report is stored once by its id: the same report again is answered with the receipt first answered, and
stores nothing; another report under a stored id is refused (409 `report_conflict`).

Reports hold counts only (the carrier refuses texts that look like personal data); nothing here logs a
report's texts, and no error repeats a value.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from parcelguard.core.clock import now
from parcelguard.core.db import begin_write
from parcelguard.core.errors import Conflict, Forbidden, Invalid, NotFound
from parcelguard.crypto import signing
from parcelguard.regulator import incident_protocol as wire_format
from parcelguard.regulator.platform import carriers
from parcelguard.regulator.platform.keys import PlatformKeys
from parcelguard.regulator.platform.models import CarrierKey, ReceivedIncidentReport, RegisteredCarrier
from parcelguard.regulator.protocol import ProtocolError, canonical

MAX_LIST = 200
DEFAULT_LIST = 50


# -- taking a report in -------------------------------------------------------------------------------

def receive(*, db_session: Session, keys: PlatformKeys, wire: object) -> dict[str, Any]:
    """Take in a signed report (its wire object) and answer the signed receipt (its wire object)."""
    try:
        report, signature = wire_format.parse_report(wire)
    except ProtocolError as exc:
        raise Invalid(exc.detail, code=exc.code, field=exc.pointer) from None
    if not db_session.in_transaction():
        begin_write(db_session)  # SQLite: take the write lock now; the row is written after the reads
    carrier_id, public_key = carriers.key_in_force(db_session=db_session, code=report.carrier,
                                                     key_id=report.key_id, what="report")
    try:
        wire_format.verify_report(report, signature, public_key)
    except ProtocolError as exc:
        raise Forbidden(exc.detail, code=exc.code, field=exc.pointer) from None

    body = canonical(report.body())
    receipt = wire_format.Receipt(carrier=report.carrier, report_id=report.report_id, received_at=now(),
                                  key_id=keys.receipt_key_id)
    # The incident receipt signs under a domain line of its own (`incident_protocol.RECEIPT_DOMAIN`), never a batch's.
    signed: dict[str, Any] = keys.sign_receipt(receipt)
    _insert_once(db_session, _row(report, carrier_id, body, signature, receipt.received_at, canonical(signed)))
    # Whatever is stored under the id now (this report, or one stored first, meanwhile or before) answers.
    stored = db_session.execute(
        select(ReceivedIncidentReport.body, ReceivedIncidentReport.receipt)
        .where(ReceivedIncidentReport.report_id == report.report_id)).one()
    if stored.body != body:
        raise Conflict("Another report is stored under this report id.", code="report_conflict",
                       field="/report_id")
    answer: dict[str, Any] = json.loads(stored.receipt)
    return answer


def _row(report: wire_format.Report, carrier_id: uuid.UUID, body: bytes, signature: bytes,
         received_at: datetime, receipt: bytes) -> dict[str, Any]:
    return {
        "report_id": report.report_id, "carrier_id": carrier_id, "incident": report.incident, "kind": report.kind,
        "reported_at": report.reported_at, "received_at": received_at, "opened_at": report.opened_at,
        "contained_at": report.contained_at, "window_since": report.since, "window_until": report.until,
        "accounts": report.accounts, "accounts_contained": report.accounts_contained, "reveals": report.reveals,
        "subjects": report.subjects, "denied": report.denied, "stations": list(report.stations),
        "fields": dict(sorted(report.fields.items())), "actions": list(report.actions), "note": report.note,
        "summary": report.summary, "key_id": report.key_id, "body": body, "signature": signature,
        "receipt": receipt,
    }


def _insert_once(db_session: Session, row: dict[str, Any]) -> None:
    """INSERT ... ON CONFLICT (report_id) DO NOTHING: of the same report sent twice at once, one row is kept
    and neither request fails on the key (each then answers what is stored)."""
    if db_session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    table = ReceivedIncidentReport.__table__
    db_session.execute(insert(table).on_conflict_do_nothing(index_elements=["report_id"]), [row])


# -- officials: the list and one report -----------------------------------------------------------------

@dataclass(frozen=True)
class ReportView:
    """A stored report as officials see it. `verified`: the stored body verifies, with the stored signature,
    under the carrier key it names (revoked since or not: it was in force when the report came), and says
    exactly what the columns listed here say."""

    report_id: uuid.UUID
    carrier: str
    carrier_name: str
    incident: str
    kind: str
    reported_at: datetime
    received_at: datetime
    opened_at: datetime
    contained_at: datetime | None
    since: datetime
    until: datetime
    accounts: int
    accounts_contained: int
    reveals: int
    subjects: int
    denied: int
    stations: tuple[str, ...]
    fields: dict[str, int]
    actions: tuple[str, ...]
    note: str
    summary: str
    key_id: str
    verified: bool
    body: bytes
    signature: bytes
    receipt: bytes


def list_reports(*, db_session: Session, carrier: str | None = None, limit: int = DEFAULT_LIST,
                 before: uuid.UUID | None = None) -> list[ReportView]:
    """The reports newest first (by when they arrived), of one carrier (its code) or of all; `before` is the
    last report id of the page before. 422 `carrier_unknown` for a code no carrier has, `before_unknown` for
    a report id not stored, `limit_format` outside 1 to 200."""
    if not 1 <= limit <= MAX_LIST:
        raise Invalid(f"A limit is 1 to {MAX_LIST}.", code="limit_format", field="#query/limit")
    query = _select().order_by(ReceivedIncidentReport.received_at.desc(), ReceivedIncidentReport.report_id.desc())
    if carrier is not None:
        if db_session.scalar(select(RegisteredCarrier.id).where(RegisteredCarrier.code == carrier)) is None:
            raise Invalid("No carrier is registered with this code.", code="carrier_unknown", field="#query/carrier")
        query = query.where(RegisteredCarrier.code == carrier)
    if before is not None:
        at = db_session.scalar(select(ReceivedIncidentReport.received_at)
                               .where(ReceivedIncidentReport.report_id == before))
        if at is None:
            raise Invalid("No report is stored with this id.", code="before_unknown", field="#query/before")
        query = query.where(or_(ReceivedIncidentReport.received_at < at,
                                and_(ReceivedIncidentReport.received_at == at,
                                     ReceivedIncidentReport.report_id < before)))
    return [_view(row, name, code, public) for row, code, name, public in db_session.execute(query.limit(limit))]


def get_report(*, db_session: Session, report_id: uuid.UUID) -> ReportView:
    """One report, its signature verified again; 404 `report_unknown`."""
    found = db_session.execute(_select().where(ReceivedIncidentReport.report_id == report_id)).first()
    if found is None:
        raise NotFound("No report is stored with this id.", code="report_unknown", field="#path/report_id")
    row, code, name, public = found
    return _view(row, name, code, public)


def _select() -> Any:
    return (select(ReceivedIncidentReport, RegisteredCarrier.code, RegisteredCarrier.name, CarrierKey.public_key)
            .join(RegisteredCarrier, RegisteredCarrier.id == ReceivedIncidentReport.carrier_id)
            .outerjoin(CarrierKey, and_(CarrierKey.carrier_id == ReceivedIncidentReport.carrier_id,
                                        CarrierKey.key_id == ReceivedIncidentReport.key_id)))


def _view(row: ReceivedIncidentReport, name: str, code: str, public_key: bytes | None) -> ReportView:
    return ReportView(
        report_id=row.report_id, carrier=code, carrier_name=name, incident=row.incident, kind=row.kind,
        reported_at=row.reported_at, received_at=row.received_at, opened_at=row.opened_at,
        contained_at=row.contained_at, since=row.window_since, until=row.window_until, accounts=row.accounts,
        accounts_contained=row.accounts_contained, reveals=row.reveals, subjects=row.subjects, denied=row.denied,
        stations=tuple(row.stations), fields=dict(row.fields), actions=tuple(row.actions), note=row.note,
        summary=row.summary, key_id=row.key_id, verified=verify_stored(row, code, public_key), body=row.body,
        signature=row.signature, receipt=row.receipt)


def verify_stored(row: ReceivedIncidentReport, carrier: str, public_key: bytes | None) -> bool:
    """Whether the stored bytes still are the carrier's signed report, and say what the row's columns say."""
    if public_key is None:
        return False
    try:
        signing.verify(public_key, wire_format.REPORT_DOMAIN + row.body, row.signature)
        wire = json.loads(row.body)
        report, _ = wire_format.parse_report({**wire, "signature": "AA=="})
    except (signing.BadSignature, ProtocolError, ValueError, TypeError):
        return False
    return (canonical(report.body()) == row.body and report.carrier == carrier
            and (report.report_id, report.key_id) == (row.report_id, row.key_id)
            and _columns(report) == _columns_of(row))


def _columns(report: wire_format.Report) -> tuple[Any, ...]:
    return (report.incident, report.kind, report.reported_at, report.opened_at, report.contained_at, report.since,
            report.until, report.accounts, report.accounts_contained, report.reveals, report.subjects,
            report.denied, list(report.stations), dict(report.fields), list(report.actions), report.note,
            report.summary)


def _columns_of(row: ReceivedIncidentReport) -> tuple[Any, ...]:
    return (row.incident, row.kind, row.reported_at, row.opened_at, row.contained_at, row.window_since,
            row.window_until, row.accounts, row.accounts_contained, row.reveals, row.subjects, row.denied,
            list(row.stations), dict(row.fields), list(row.actions), row.note, row.summary)
