"""Assessing an incident (issue 14): what the incident's accounts revealed in its window, from the gate's own
log (`audit.log.find_entries`, each entry re-checked against its stored copies), never from a second record.

Counts what the report to the regulator states: reveals allowed, distinct parcels, reveals by field, reveals
refused, per account; and keeps the parcels revealed (`IncidentSubject`) so the carrier knows whom to notify.
Knows nothing of HTTP.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from parcelguard.audit import log
from parcelguard.incidents.models import IncidentSubject

SHIPMENT = "shipment:"
PAGE = 5000


@dataclass
class Assessment:
    since: datetime
    until: datetime
    reveals: int = 0
    denied: int = 0
    fields: Counter[str] = field(default_factory=Counter)
    subjects: Counter[uuid.UUID] = field(default_factory=Counter)
    by_account: dict[str, dict[str, int]] = field(default_factory=dict)
    last_index: int | None = None

    def stored(self) -> dict[str, Any]:
        return {"since": self.since.isoformat(), "until": self.until.isoformat(), "reveals": self.reveals,
                "subjects": len(self.subjects), "denied": self.denied, "fields": dict(sorted(self.fields.items())),
                "by_account": self.by_account, "last_index": self.last_index}


def assess(*, db_session: Session, carrier_id: uuid.UUID, incident_id: uuid.UUID, account_ids: list[uuid.UUID],
           since: datetime, until: datetime) -> Assessment:
    """Read each account's entries in `[since, until)` and replace the incident's parcels with those found."""
    found = Assessment(since=since, until=until)
    for user_id in account_ids:
        mine = {"reveals": 0, "subjects": 0, "denied": 0}
        theirs: set[uuid.UUID] = set()
        after = None
        while True:
            page = log.find_entries(db_session=db_session, carrier_id=carrier_id, actor=user_id, since=since,
                                    until=until, after=after, limit=PAGE)
            for stored in page:
                entry = json.loads(stored.entry)
                subject = entry.get("subject") or ""
                if not subject.startswith(SHIPMENT):
                    continue  # a change or an export, not a reveal of a parcel
                if entry.get("decision") == "deny":
                    found.denied += 1
                    mine["denied"] += 1
                    continue
                try:
                    shipment_id = uuid.UUID(subject.removeprefix(SHIPMENT))
                except ValueError:
                    continue
                found.reveals += 1
                mine["reveals"] += 1
                found.subjects[shipment_id] += 1
                theirs.add(shipment_id)
                found.fields.update(str(f) for f in entry.get("fields") or [])
                found.last_index = max(found.last_index or 0, stored.index)
            if len(page) < PAGE:
                break
            after = page[-1].index
        mine["subjects"] = len(theirs)
        found.by_account[str(user_id)] = mine
    db_session.execute(delete(IncidentSubject).where(IncidentSubject.incident_id == incident_id))
    if found.subjects:
        db_session.execute(IncidentSubject.__table__.insert(), [
            {"incident_id": incident_id, "shipment_id": shipment_id, "reveals": n}
            for shipment_id, n in found.subjects.items()])
    return found
