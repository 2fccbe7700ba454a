"""The audit on departure, on both engines: retiring an account writes a report of that person's last 90 days in
the carrier's log (counts by purpose and day, distinct parcels, refusals, reveals off their shift and without a
task), from the log alone and only theirs; retiring again writes nothing, a second departure a second report."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import timedelta

from sqlalchemy import Engine, func, select

from parcelguard.accounts import staff
from parcelguard.core.auth import Role
from parcelguard.core.clock import now
from parcelguard.crypto.keyring import Keyring
from parcelguard.detection import departures
from parcelguard.detection.models import DepartureReport
from tests.detection.world import DELIVERY_FIELDS, World
from tests.tenants import writing


def leaver_world(engine: Engine, keyring: Keyring) -> tuple[World, str, dict[str, object]]:
    """A courier with 30 ordinary days, 3 reveals of parcels never given to them, 6 in the night, one
    entry 95 days old; a colleague's work beside. Answers what the report must say."""
    world = World.create(engine, keyring, seed=7, stations=2, days=30, until=now().replace(microsecond=0))
    [leaver, colleague] = world.add_people("courier", 2, prefix="c", station=0)
    world.people[leaver].start, world.people[leaver].length = 9, 8
    world.ordinary([leaver, colleague], days=range(30, -1, -1))
    person = world.people[leaver]
    theirs = [e for e in world.entries if e["actor"] == str(person.user_id)]
    colleague_parcels = [uuid.UUID(e["subject"][9:]) for e in world.entries
                         if e["actor"] != str(person.user_id) and e["decision"] == "allow"]
    for parcel in colleague_parcels[:3]:  # a reveal no task covers
        world.reveal(person, parcel, world.at(2, 11), "delivery", DELIVERY_FIELDS)
    mine = [uuid.UUID(e["subject"][9:]) for e in theirs if e["decision"] == "allow"]
    night = world.at(3, 2.5)  # six and a half hours before their shift starts
    for parcel in mine[:6]:
        world.reveal(person, parcel, night, "delivery", DELIVERY_FIELDS)
    world.reveal(person, mine[0], world.at(95, 10), "delivery", DELIVERY_FIELDS)  # outside the 90 days
    cutoff = (world.until - timedelta(days=90)).isoformat()
    recent = [e for e in world.entries if e["actor"] == str(person.user_id) and e["time"] >= cutoff]
    allowed = [e for e in recent if e["decision"] == "allow"]
    by_purpose = Counter((e["purpose"], e["decision"]) for e in recent)
    expected = {"entries": len(recent), "reveals": len(allowed), "denied": len(recent) - len(allowed),
                "distinct_subjects": len({e["subject"] for e in allowed}), "untasked": 3, "off_shift": 6,
                "by_purpose": {p: {"allow": by_purpose[(p, "allow")], "deny": by_purpose[(p, "deny")]}
                               for p in {p for p, _ in by_purpose}}}
    world.write()
    return world, leaver, expected


def test_retiring_a_courier_reports_their_last_ninety_days_and_nothing_else(
    engine: Engine, keyring: Keyring
) -> None:
    world, leaver, expected = leaver_world(engine, keyring)
    manager, officer = world.tenant.actor(Role.STATION_MANAGER), world.tenant.actor(Role.HQ_SECURITY)
    user_id = world.people[leaver].user_id
    with writing(engine) as s:
        staff.set_active(db_session=s, actor=manager, user_id=user_id, active=False)
    with writing(engine) as s:
        report = departures.latest_report(db_session=s, actor=officer, user_id=user_id)
    assert report.role == "courier" and report.retired_by == manager.user_id
    assert report.period_end - report.period_start == timedelta(days=90)
    got = {name: getattr(report, name) for name in ("entries", "reveals", "denied", "distinct_subjects", "untasked",
                                                    "off_shift")}
    assert got == {k: v for k, v in expected.items() if k != "by_purpose"}
    assert report.breakdown["by_purpose"] == expected["by_purpose"]
    days = report.breakdown["by_day"]
    assert sum(n for d in days for counts in d["purposes"].values() for n in counts.values()) == expected["entries"]
    assert len(days) <= 32 and days == sorted(days, key=lambda d: d["day"])
    assert sum(report.breakdown["reveals_by_hour"]) == expected["reveals"]
    def beijing_hour(hours: float) -> int:  # the world's hours count from `until`, not from a midnight
        return (world.at(0, hours) + timedelta(hours=8)).hour

    assert beijing_hour(2.5) not in report.breakdown["shift_hours"]
    assert beijing_hour(13) in report.breakdown["shift_hours"]
    assert report.last_index is not None

    # Already retired: no second report. Back, then gone again: a second report, the newest answered.
    with writing(engine) as s:
        staff.set_active(db_session=s, actor=manager, user_id=user_id, active=False)
        assert _reports(s, user_id) == 1
        staff.set_active(db_session=s, actor=manager, user_id=user_id, active=True)
        staff.set_active(db_session=s, actor=manager, user_id=user_id, active=False)
        assert _reports(s, user_id) == 2
        newest = departures.latest_report(db_session=s, actor=manager, user_id=user_id)
        assert newest.id != report.id and newest.entries == report.entries


def _reports(session: object, user_id: uuid.UUID) -> int:
    return int(session.scalar(select(func.count()).select_from(DepartureReport)  # type: ignore[attr-defined]
                              .where(DepartureReport.user_id == user_id)))
