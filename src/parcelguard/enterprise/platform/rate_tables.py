"""A connection's rate table versions: imported from CSV or XLSX (`enterprise.rates.parse`, which names every
error's sheet, row and column), kept as JSON beside the file's SHA-256, and the version in force on a day. No
HTTP.

A version never changes once imported (a new one is imported instead), so a parsed table is cached per process
by its row id: correct across processes with no invalidation, and a quote reads no JSON.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections import OrderedDict
from dataclasses import asdict
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from parcelguard.core.clock import now
from parcelguard.core.errors import Conflict, DomainError, Invalid
from parcelguard.enterprise.platform import connections
from parcelguard.enterprise.platform.models import RateTableVersion
from parcelguard.enterprise.rates import parse
from parcelguard.enterprise.rates.model import Lane, RateTable, Surcharge

MAX_FILE_BYTES = parse.MAX_FILE_BYTES
XLSX_MAGIC = b"PK\x03\x04"  # an XLSX file is a zip archive


class FileTooLarge(DomainError):
    status = 413
    code = "rate_file_too_large"


def dump(table: RateTable) -> str:
    """The table as JSON (what a version row keeps)."""
    return json.dumps({
        "carrier": table.carrier, "version": table.version, "effective_from": table.effective_from.isoformat(),
        "lanes": [asdict(lane) for lane in table.lanes],
        "surcharges": [{**asdict(s), "destination_provinces": sorted(s.destination_provinces)}
                       for s in table.surcharges],
    }, ensure_ascii=False, separators=(",", ":"))


def load(text: str) -> RateTable:
    data: dict[str, Any] = json.loads(text)
    return RateTable(carrier=data["carrier"], version=data["version"],
                     effective_from=date.fromisoformat(data["effective_from"]),
                     lanes=tuple(Lane(**lane) for lane in data["lanes"]),
                     surcharges=tuple(Surcharge(**{**s, "destination_provinces": frozenset(s["destination_provinces"])})
                                      for s in data["surcharges"]))


# Least recently used tables go first: a parsed table of ~1,200 lanes is about 0.7 MB and costs 20-30 ms to
# load (bench/enterprise_quotes.py), so a full clear would make the next quotes of every company pay it.
CACHED_TABLES = 256
_cache: OrderedDict[uuid.UUID, RateTable] = OrderedDict()
_cache_lock = threading.Lock()


def _table(db_session: Session, version_id: uuid.UUID) -> RateTable:
    with _cache_lock:
        found = _cache.get(version_id)
        if found is not None:
            _cache.move_to_end(version_id)
            return found
    body = db_session.scalar(select(RateTableVersion.body).where(RateTableVersion.id == version_id))
    if body is None:
        raise KeyError(version_id)
    found = load(body)
    with _cache_lock:
        _cache[version_id] = found
        while len(_cache) > CACHED_TABLES:
            _cache.popitem(last=False)
    return found


def import_file(*, db_session: Session, company_id: uuid.UUID, connection_id: uuid.UUID, data: bytes,
                file_name: str, version: str, effective_from: date, surcharges: bytes | None,
                imported_by: uuid.UUID) -> RateTableVersion:
    """Parse and keep a version of the connection's table: all or nothing (422 `rate_table_invalid` naming every
    error; 409 `rate_version_exists` when a version of the connection already starts that day)."""
    connection = connections.get(db_session=db_session, company_id=company_id, connection_id=connection_id)
    if len(data) > MAX_FILE_BYTES or (surcharges is not None and len(surcharges) > MAX_FILE_BYTES):
        raise FileTooLarge(f"A rate table file is at most {MAX_FILE_BYTES // (1024 * 1024)} MB.", field="/file")
    is_xlsx = data.startswith(XLSX_MAGIC)
    if is_xlsx and surcharges is not None:
        raise Invalid("An XLSX workbook carries its surcharges in its own sheet `surcharges` (附加费): send one file.",
                      code="surcharges_file_unexpected", field="/surcharges")
    if is_xlsx:
        table = parse.parse_xlsx(data, carrier=connection.code, version=version, effective_from=effective_from)
    else:
        table = parse.parse_csv(data, carrier=connection.code, version=version, effective_from=effective_from,
                                surcharges=surcharges)
    taken = db_session.scalar(select(RateTableVersion.id).where(RateTableVersion.connection_id == connection.id,
                                                                RateTableVersion.effective_from == effective_from))
    if taken is not None:
        raise Conflict("A version of this carrier's table already takes effect on that day.",
                       code="rate_version_exists", field="/effective_from")
    row = RateTableVersion(company_id=company_id, connection_id=connection.id, version=table.version,
                           effective_from=effective_from, lanes=len(table.lanes), surcharges=len(table.surcharges),
                           body=dump(table), file_name=file_name[:200],
                           file_sha256=hashlib.sha256(data + (surcharges or b"")).digest(),
                           imported_by=imported_by, imported_at=now())
    db_session.add(row)
    db_session.flush()
    return row


def versions(*, db_session: Session, company_id: uuid.UUID, connection_id: uuid.UUID) -> list[RateTableVersion]:
    connection = connections.get(db_session=db_session, company_id=company_id, connection_id=connection_id)
    return list(db_session.scalars(select(RateTableVersion).where(RateTableVersion.connection_id == connection.id)
                                   .order_by(RateTableVersion.effective_from.desc())))


def in_force(*, db_session: Session, company_id: uuid.UUID, on: date) -> dict[uuid.UUID, RateTable]:
    """Per connection of the company, the table in force on `on` (the latest version that started by then). Reads
    the versions' ids and days, and a body only when this process has not parsed it before."""
    latest: dict[uuid.UUID, uuid.UUID] = {}
    rows = db_session.execute(select(RateTableVersion.connection_id, RateTableVersion.id).where(
        RateTableVersion.company_id == company_id, RateTableVersion.effective_from <= on)
        .order_by(RateTableVersion.effective_from))
    for connection_id, version_id in rows:
        latest[connection_id] = version_id  # later ones replace earlier ones
    return {connection_id: _table(db_session, version_id) for connection_id, version_id in latest.items()}
