"""A simulated carrier for detection: stations, couriers and managers with weeks of ordinary work (tasks and the
reveals they need, at each person's usual hours, with day-to-day variation from a seeded random generator), and
insiders whose last day is not ordinary.

The log entries are written by `audit.log.append`, in exactly the shape the gate writes them (an allowed reveal,
a refusal with its reason); tasks and parcels go straight into their tables (a parcel's personal fields are
empty: nothing here is ever revealed). Times are Beijing days ending at `until`, a Beijing midnight.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from parcelguard.accounts import service as accounts
from parcelguard.accounts.models import User
from parcelguard.audit import log
from parcelguard.core import db
from parcelguard.core.clock import now
from parcelguard.crypto.keyring import Keyring
from parcelguard.shipments.models import Assignment, Shipment
from tests.tenants import Tenant, writing

DELIVERY_FIELDS = ["recipient_name", "recipient_address"]
PICKUP_FIELDS = ["sender_name", "sender_address"]
SERVICE_FIELDS = ["sender_name", "sender_phone", "sender_address", "recipient_name", "recipient_phone",
                  "recipient_address"]
DISTRICTS_PER_STATION = 6
BEIJING = timedelta(hours=8)


def beijing_midnight_before(moment: datetime) -> datetime:
    local = moment + BEIJING
    return datetime(local.year, local.month, local.day, tzinfo=UTC) - BEIJING


@dataclass
class Person:
    user_id: uuid.UUID
    role: str
    station: int
    volume: float  # tasks (couriers) or reads (managers) on a working day, on average
    start: int  # Beijing hour the shift starts
    length: int  # hours


@dataclass
class World:
    engine: Engine
    keyring: Keyring
    tenant: Tenant
    rng: random.Random
    until: datetime
    days: int  # days of history before the window (the window is the last day)
    stations: list[uuid.UUID] = field(default_factory=list)
    people: dict[str, Person] = field(default_factory=dict)  # by name
    entries: list[dict[str, Any]] = field(default_factory=list)
    shipments: list[dict[str, Any]] = field(default_factory=list)
    assignments: list[dict[str, Any]] = field(default_factory=list)
    station_parcels: dict[int, list[uuid.UUID]] = field(default_factory=dict)  # parcels of each station

    # -- people ----------------------------------------------------------------------------------------------

    @classmethod
    def create(cls, engine: Engine, keyring: Keyring, *, seed: int, stations: int, days: int,
               until: datetime | None = None) -> World:
        """A new carrier with `stations` stations; its days end at `until` (the last Beijing midnight if None:
        then a day is a Beijing day and an hour of it a Beijing hour)."""
        tenant = Tenant.create(engine=engine, keyring=keyring)
        world = cls(engine=engine, keyring=keyring, tenant=tenant, rng=random.Random(seed),
                    until=until or beijing_midnight_before(now()), days=days, stations=list(tenant.stations))
        with writing(engine) as s:
            for n in range(len(world.stations), stations):
                world.stations.append(accounts.create_station(db_session=s, carrier_id=tenant.carrier_id,
                                                              code=f"ST-{n + 1}", name=f"Station {n + 1}",
                                                              region_code="110105").id)
        return world

    def add_people(self, role: str, count: int, *, prefix: str, station: int | None = None) -> list[str]:
        """`count` accounts of `role` spread over the stations (or all at `station`), each with a usual volume
        and shift of their own."""
        names, rows = [], []
        for n in range(count):
            name = f"{prefix}{n}"
            at = station if station is not None else n % len(self.stations)
            courier = role == "courier"
            person = Person(user_id=uuid.uuid4(), role=role, station=at,
                            volume=self.rng.uniform(20, 40) if courier else self.rng.uniform(10, 25),
                            start=self.rng.randint(6, 11) if courier else self.rng.randint(8, 10),
                            length=self.rng.choice((8, 9, 10)))
            self.people[name] = person
            names.append(name)
            rows.append({"id": person.user_id, "carrier_id": self.tenant.carrier_id,
                         "station_id": self.stations[at], "username": f"{self.tenant.slug}-{name}", "role": role,
                         "display_name": name, "password_hash": "!", "active": True, "created_at": now(),
                         "organisation_id": None})
        with writing(self.engine) as s:
            db.bulk_insert(s, User, rows)
        return names

    # -- a day's work ----------------------------------------------------------------------------------------

    def day_start(self, day: int) -> datetime:
        """Beijing midnight starting day `day` (0: the window's day; 1: the day before ...)."""
        return self.until - timedelta(days=day + 1)

    def at(self, day: int, hours: float) -> datetime:
        return self.day_start(day) + timedelta(hours=hours)

    def parcel(self, station: int, district: int, created: datetime) -> uuid.UUID:
        shipment_id = uuid.uuid4()
        self.shipments.append({
            "id": shipment_id, "carrier_id": self.tenant.carrier_id, "origin_station_id": self.stations[station],
            "destination_station_id": self.stations[station], "recipient_district": f"D{station}-{district}",
            "created_at": created, **dict.fromkeys(SERVICE_FIELDS, b"")})
        self.station_parcels.setdefault(station, []).append(shipment_id)
        return shipment_id

    def reveal(self, person: Person, subject: uuid.UUID, when: datetime, purpose: str, fields: list[str],
               reason: str | None = None) -> None:
        self.entries.append({
            "time": when.isoformat(), "actor": str(person.user_id), "role": person.role,
            "subject": f"shipment:{subject}", "fields": fields, "purpose": purpose, "case_id": None,
            "decision": "deny" if reason else "allow", "reason": reason, "request_id": uuid.uuid4().hex})

    def courier_day(self, name: str, day: int, *, tasks: int | None = None, districts: int = 2) -> list[uuid.UUID]:
        """A courier's working day: tasks given at the shift's start, each parcel revealed once when picked up or
        delivered (one in five twice), the odd refusal. Answers the day's parcels."""
        p, rng = self.people[name], self.rng
        jitter = rng.gauss(0, 0.4)
        count = tasks if tasks is not None else max(1, round(rng.gauss(p.volume, p.volume * 0.15)))
        home = self.people_index(name) % DISTRICTS_PER_STATION
        parcels = []
        for _ in range(count):
            offset = 0 if districts <= 1 or rng.random() < 0.85 else rng.randrange(1, districts)
            district = (home + offset) % DISTRICTS_PER_STATION
            opened = self.at(day, p.start + jitter - 0.5)
            shipment_id = self.parcel(p.station, district, opened - timedelta(hours=6))
            when = self.at(day, p.start + jitter + rng.uniform(0, p.length))
            pickup = rng.random() < 0.25
            self.assignments.append({"id": uuid.uuid4(), "carrier_id": self.tenant.carrier_id,
                                     "shipment_id": shipment_id, "courier_id": p.user_id,
                                     "task": "pickup" if pickup else "delivery", "opened_at": opened,
                                     "closed_at": when + timedelta(minutes=rng.uniform(5, 60))})
            purpose, fields = ("pickup", PICKUP_FIELDS) if pickup else ("delivery", DELIVERY_FIELDS)
            self.reveal(p, shipment_id, when, purpose, fields)
            if rng.random() < 0.2:
                self.reveal(p, shipment_id, when + timedelta(minutes=rng.uniform(1, 30)), purpose, fields)
            parcels.append(shipment_id)
        for _ in range(self.poisson(0.3)):  # a mistyped number, a parcel handed to a colleague
            others = self.station_parcels[p.station]
            self.reveal(p, rng.choice(others), self.at(day, p.start + rng.uniform(0, p.length)), "delivery",
                        DELIVERY_FIELDS, reason=rng.choice(("not_assigned", "outside_window")))
        return parcels

    def manager_day(self, name: str, day: int, *, reads: int | None = None) -> None:
        """A station manager's day: customer service and labels printed for the station's parcels."""
        p, rng = self.people[name], self.rng
        count = reads if reads is not None else max(1, round(rng.gauss(p.volume, p.volume * 0.2)))
        parcels = self.station_parcels.get(p.station) or [self.parcel(p.station, 0, self.day_start(day))]
        for subject in rng.sample(parcels, min(count, len(parcels))):
            purpose, fields = ("customer_service", SERVICE_FIELDS) if rng.random() < 0.6 else (
                "label_print", ["recipient_address"])
            self.reveal(p, subject, self.at(day, p.start + rng.uniform(0, p.length)), purpose, fields)

    def ordinary(self, names: list[str], *, days: range) -> None:
        """Ordinary work on `days` (oldest first): each works six days in seven."""
        for day in days:
            for name in names:
                if self.rng.random() < 6 / 7:
                    (self.courier_day if self.people[name].role == "courier" else self.manager_day)(name, day)

    def people_index(self, name: str) -> int:
        return int("".join(c for c in name if c.isdigit()) or 0)

    def poisson(self, lam: float) -> int:
        count, total = 0, self.rng.expovariate(1.0)
        while total < lam:
            count += 1
            total += self.rng.expovariate(1.0)
        return count

    # -- writing it ------------------------------------------------------------------------------------------

    def write(self, batch: int = 5000) -> None:
        """Parcels and tasks into their tables, then the log in time order, as the gate would have appended it."""
        with writing(self.engine) as s:
            for start in range(0, len(self.shipments), batch):
                db.bulk_insert(s, Shipment, self.shipments[start:start + batch])
            for start in range(0, len(self.assignments), batch):
                db.bulk_insert(s, Assignment, self.assignments[start:start + batch])
        self.entries.sort(key=lambda e: e["time"])
        for start in range(0, len(self.entries), batch):
            with writing(self.engine) as s:
                log.append(db_session=s, keyring=self.keyring, carrier_id=self.tenant.carrier_id,
                           entries=self.entries[start:start + batch])
        self.shipments, self.assignments, self.entries = [], [], []
