"""A test tenant: a carrier of its own with two stations, and accounts made when a test asks."""

from __future__ import annotations

import itertools
import secrets
import string
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date

import httpx
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from parcelguard.accounts import flows, service
from parcelguard.accounts.models import StaffObligation
from parcelguard.accounts.standing import BOUND_ROLES, KINDS
from parcelguard.core import db
from parcelguard.core.auth import STATION_ROLES, Actor, Role
from parcelguard.crypto.keyring import Keyring
from parcelguard.shipments import service as shipments

PASSWORD = "correct horse battery"

# Personal data no test output may ever show unless the gate revealed it.
CANARY = shipments.Parties(
    sender_name="欧阳寄件", sender_phone="+8613912345678", sender_address="北京市朝阳区寄件路1号 3单元 501",
    recipient_name="司马收件", recipient_phone="+8613787654321", recipient_address="上海市浦东新区收件路8号 1202室",
)


# Waybill prefixes are unique among carriers. Random ones would collide (birthday bound over 26**4) about
# once in twenty runs among the few hundred tenants a test database gets; counted from a random start they
# never do within a run, and each run has databases of its own.
_PREFIXES = itertools.count(secrets.randbelow(26**4))


def _next_prefix() -> str:
    n = next(_PREFIXES) % 26**4
    return "".join(string.ascii_uppercase[n // 26**i % 26] for i in (3, 2, 1, 0))


@contextmanager
def writing(engine: Engine) -> Iterator[Session]:
    """A session whose transaction takes SQLite's write lock first (`db.begin_write`): a test's
    read-then-write would otherwise fail at once ("database is locked") whenever the live server
    committed in between; waiting for the lock instead is what the server's own requests do."""
    with db.make_sessionmaker(engine)() as s, s.begin():
        db.begin_write(s)
        yield s


@dataclass
class Account:
    username: str
    password: str
    user_id: uuid.UUID
    station_id: uuid.UUID | None


@dataclass
class Tenant:
    engine: Engine
    carrier_id: uuid.UUID
    slug: str
    prefix: str
    stations: list[uuid.UUID]
    accounts: dict[tuple[Role, int], Account] = field(default_factory=dict)
    # Staff accounts get a confidentiality agreement and a training in force (the gate asks for both);
    # a test of the obligations themselves turns this off.
    obligations: bool = True

    @classmethod
    def create(cls, *, engine: Engine, keyring: Keyring) -> Tenant:
        slug = "t-" + uuid.uuid4().hex[:10]
        prefix = _next_prefix()
        with writing(engine) as s:
            carrier = flows.create_carrier(db_session=s, keyring=keyring, slug=slug, name=f"Carrier {slug}",
                                           waybill_prefix=prefix)
            stations = [
                service.create_station(db_session=s, carrier_id=carrier.id, code=f"ST-{n}", name=f"Station {n}",
                                       region_code="110105").id
                for n in (1, 2)
            ]
        return cls(engine=engine, carrier_id=carrier.id, slug=slug, prefix=prefix, stations=stations)

    def account(self, role: Role, *, station: int = 0, n: int = 0) -> Account:
        """The n-th account of `role` (at station index `station` for station roles), made once."""
        key = (role, n * 10 + station)
        if key not in self.accounts:
            username = f"{self.slug}-{role.value.replace('_', '-')}-{station}-{n}"
            station_id = self.stations[station] if role in STATION_ROLES else None
            carrier_id = None if role == Role.REGULATOR else self.carrier_id
            with writing(self.engine) as s:
                user = service.create_user(db_session=s, username=username, password=PASSWORD, role=role,
                                           display_name=username, carrier_id=carrier_id, station_id=station_id)
                if carrier_id is not None and role in BOUND_ROLES and self.obligations:
                    in_force(s, carrier_id, user.id)
                self.accounts[key] = Account(username, PASSWORD, user.id, station_id)
        return self.accounts[key]

    def actor(self, role: Role, *, station: int = 0, n: int = 0) -> Actor:
        """The account as the service layer sees a signed-in caller."""
        account = self.account(role, station=station, n=n)
        return Actor(user_id=account.user_id, username=account.username, role=role,
                     carrier_id=None if role == Role.REGULATOR else self.carrier_id,
                     station_id=account.station_id, token_id=uuid.uuid4())

    def shipment(self, keyring: Keyring, *, origin: int = 0, destination: int | None = 1,
                 customer: uuid.UUID | None = None, parties: shipments.Parties | None = None) -> uuid.UUID:
        """A shipment between the tenant's stations, with canary personal data unless `parties` is given."""
        with writing(self.engine) as s:
            return shipments.create(
                db_session=s, keyring=keyring, carrier_id=self.carrier_id, origin_station_id=self.stations[origin],
                destination_station_id=None if destination is None else self.stations[destination],
                customer_id=customer, parties=parties or CANARY,
            ).id

    def assign(self, shipment_id: uuid.UUID, courier: Actor, task: shipments.Task) -> uuid.UUID:
        """Assign as the carrier's HQ security officer would."""
        officer = self.actor(Role.HQ_SECURITY)  # made first: it writes on a connection of its own
        with writing(self.engine) as s:
            return shipments.assign(db_session=s, actor=officer, shipment_id=shipment_id,
                                    courier_id=courier.user_id, task=task).id

    def login(self, http: httpx.Client, role: Role, *, station: int = 0, n: int = 0,
              terminal_id: str | None = None) -> dict[str, str]:
        """Sign in as that account; answers the headers a client then sends."""
        account = self.account(role, station=station, n=n)
        headers = {"X-Terminal-Id": terminal_id} if terminal_id else {}
        r = http.post("/api/v1/auth/token", data={"username": account.username, "password": account.password},
                      headers=headers)
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}", **headers}


def in_force(db_session: Session, carrier_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """A confidentiality agreement and a training for the account, in force this century."""
    for kind in KINDS:
        db_session.add(StaffObligation(carrier_id=carrier_id, user_id=user_id, kind=kind, version="test-1",
                                       signed_on=date(2000, 1, 1), expires_on=date(2099, 12, 31)))
