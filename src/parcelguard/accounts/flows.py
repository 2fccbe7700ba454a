"""Steps that span accounts and other domains: a new carrier gets its keys with it; a carrier's settings
change in the audit log; the demo seed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import timedelta

from sqlalchemy.orm import Session

from parcelguard.accounts import service
from parcelguard.accounts.models import Carrier, StaffObligation
from parcelguard.accounts.standing import BOUND_ROLES, KINDS, today
from parcelguard.audit import service as audit
from parcelguard.contracts import service as contracts
from parcelguard.core.auth import Actor, Role
from parcelguard.core.errors import Forbidden, Invalid, NotFound
from parcelguard.crypto.keyring import Keyring
from parcelguard.privacy_numbers import service as privacy_numbers
from parcelguard.shipments import flows as shipment_flows

DEMO_PASSWORD = "parcelguard-demo"


def create_carrier(*, db_session: Session, keyring: Keyring, slug: str, name: str, waybill_prefix: str) -> Carrier:
    """A carrier and its first key-encryption key and blind-index key, in one transaction."""
    carrier = service.create_carrier(db_session=db_session, slug=slug, name=name, waybill_prefix=waybill_prefix)
    keyring.ensure_carrier_keys(db_session=db_session, carrier_id=carrier.id)
    return carrier


@dataclass(frozen=True)
class CarrierSettings:
    refuse_courier_own_id: bool
    blacklist_policy: str  # refuse | flag: staff whose document the industry blacklist lists (blacklist.service)
    # No reveal without a confidentiality agreement and a training in force (accounts.standing): on for every
    # carrier made since migration 0013, off for older ones until their admin turns it on.
    obligations_required: bool


BLACKLIST_POLICIES = ("refuse", "flag")
# Each setting's log entry: subject `setting:<name>`, purpose from its new value.
_PURPOSE = {bool: lambda value: "setting_on" if value else "setting_off", str: lambda value: f"setting_{value}"}


def _settings_of(carrier: Carrier) -> CarrierSettings:
    return CarrierSettings(**{f.name: getattr(carrier, f.name) for f in fields(CarrierSettings)})


def carrier_settings(*, db_session: Session, actor: Actor) -> CarrierSettings:
    if actor.carrier_id is None:
        raise NotFound("There is nothing here for an account outside a carrier.", code="carrier_unknown")
    return _settings_of(service.get_carrier(db_session=db_session, carrier_id=actor.carrier_id))


def change_carrier_settings(*, db_session: Session, keyring: Keyring, actor: Actor, request_id: str | None = None,
                            **changes: bool | str | None) -> CarrierSettings:
    """An admin changes the carrier's settings (`CarrierSettings`' names; None leaves one as it is); each setting
    that changes is an entry of the audit log."""
    if actor.role != Role.ADMIN or actor.carrier_id is None:
        raise Forbidden("An admin changes the carrier's settings.", code="role_not_allowed")
    known = {f.name for f in fields(CarrierSettings)}
    assert set(changes) <= known, f"unknown settings: {sorted(set(changes) - known)}"
    policy = changes.get("blacklist_policy")
    if policy is not None and policy not in BLACKLIST_POLICIES:
        raise Invalid("The blacklist policy is refuse or flag.", code="blacklist_policy_unknown",
                      field="/blacklist_policy")
    carrier = service.get_carrier(db_session=db_session, carrier_id=actor.carrier_id)
    for name, value in changes.items():
        if value is None or value == getattr(carrier, name):
            continue
        setattr(carrier, name, value)
        db_session.flush()
        audit.log_admin_change(db_session=db_session, keyring=keyring, actor=actor, subject=f"setting:{name}",
                               purpose=_PURPOSE[type(value)](value), request_id=request_id)
    return _settings_of(carrier)


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: Role
    where: str
    created: bool


# (username, role, display name, station code or None)
_DEMO_STATIONS = (("DE-BJ-CY01", "Beijing Chaoyang", "110105"), ("DE-SH-PD01", "Shanghai Pudong", "310115"))
_DEMO_USERS = (
    ("demo-courier-1", Role.COURIER, "Courier Wang", "DE-BJ-CY01"),
    ("demo-courier-2", Role.COURIER, "Courier Li", "DE-BJ-CY01"),
    ("demo-courier-3", Role.COURIER, "Courier Zhao", "DE-SH-PD01"),
    ("demo-manager", Role.STATION_MANAGER, "Manager Chen", "DE-BJ-CY01"),
    ("demo-security", Role.HQ_SECURITY, "HQ Security Officer Sun", None),
    ("demo-auditor", Role.AUDITOR, "Auditor Zhou", None),
    ("demo-shop", Role.ENTERPRISE, "Demo Shop Ltd.", None),
    ("demo-admin", Role.ADMIN, "Administrator", None),
)
_DEMO_USCC = "91110105MA01C3XR78"  # well-formed (GB 32100-2015 check character), made up
# The demo pool of virtual numbers (隐私号): a Hangzhou range for the example, routed by no real provider.
_DEMO_NUMBERS = ("+8657188880001", "+8657188880002")
_DEMO_REGULATOR = ("regulator", Role.REGULATOR, "State Post Bureau (demo)")


def seed_demo(*, db_session: Session, keyring: Keyring, regulator_public_key: bytes | None = None) -> list[DemoLogin]:
    """The demo carrier "Demo Express" with its stations and staff, a regulator account, and (when the
    regulator's key is there to seal it) the demo shop's agreement as a contract customer.

    Idempotent: what exists is left as it is, so a second run duplicates nothing.
    """
    carrier = service.get_carrier_by_slug(db_session=db_session, slug="demo")
    if carrier is None:
        carrier = create_carrier(db_session=db_session, keyring=keyring, slug="demo", name="Demo Express",
                                 waybill_prefix="DE")
    stations: dict[str, uuid.UUID] = {s.code: s.id for s in service.list_stations(db_session=db_session,
                                                                                    carrier_id=carrier.id)}
    for code, name, region in _DEMO_STATIONS:
        if code not in stations:
            stations[code] = service.create_station(db_session=db_session, carrier_id=carrier.id, code=code,
                                                    name=name, region_code=region).id
    logins = []
    for username, role, display_name, station in _DEMO_USERS:
        created = _ensure_user(db_session=db_session, username=username, role=role, display_name=display_name,
                               carrier_id=carrier.id, station_id=stations[station] if station else None)
        logins.append(DemoLogin(username, role, f"Demo Express{' / ' + station if station else ''}", created))
    users = {u: service.get_user_by_username(db_session=db_session, username=u)
             for u in ("demo-courier-1", "demo-manager", "demo-shop")}
    manager = users["demo-manager"]
    assert manager is not None and users["demo-courier-1"] is not None and users["demo-shop"] is not None
    if not privacy_numbers.list_numbers(db_session=db_session, carrier_id=carrier.id):
        privacy_numbers.add_numbers(db_session=db_session, carrier_id=carrier.id, numbers=list(_DEMO_NUMBERS))
    shipment_flows.seed_demo_shipments(
        db_session=db_session, keyring=keyring, carrier_id=carrier.id, origin=stations["DE-SH-PD01"],
        destination=stations["DE-BJ-CY01"], courier=users["demo-courier-1"].id, shop=users["demo-shop"].id,
        manager=Actor(user_id=manager.id, username=manager.username, role=Role.STATION_MANAGER,
                      carrier_id=carrier.id, station_id=manager.station_id, token_id=uuid.uuid4()),
    )
    if regulator_public_key is not None and contracts.active_for(
            db_session=db_session, carrier_id=carrier.id, customer_id=users["demo-shop"].id) is None:
        admin = service.get_user_by_username(db_session=db_session, username="demo-admin")
        assert admin is not None
        contracts.create(
            db_session=db_session, keyring=keyring, regulator_public_key=regulator_public_key,
            actor=Actor(user_id=admin.id, username=admin.username, role=Role.ADMIN, carrier_id=carrier.id,
                        station_id=None, token_id=uuid.uuid4()),
            agreement=contracts.NewAgreement(
                customer_id=users["demo-shop"].id, station_id=stations["DE-BJ-CY01"],
                organisation_name="演示电子商务有限公司", uscc=_DEMO_USCC, responsible_doc_type="resident_id",
                # The sample number of GB 11643-1999 itself, and a name from no one's ID card.
                responsible_number="11010519491231002X", responsible_name="演示负责人", inspection_permille=200),
        )
    username, role, display_name = _DEMO_REGULATOR
    created = _ensure_user(db_session=db_session, username=username, role=role, display_name=display_name,
                           carrier_id=None, station_id=None)
    logins.append(DemoLogin(username, role, "regulator", created))
    return logins


def _ensure_user(*, db_session: Session, username: str, role: Role, display_name: str,
                 carrier_id: uuid.UUID | None, station_id: uuid.UUID | None) -> bool:
    if service.get_user_by_username(db_session=db_session, username=username) is not None:
        return False
    user = service.create_user(db_session=db_session, username=username, password=DEMO_PASSWORD, role=role,
                               display_name=display_name, carrier_id=carrier_id, station_id=station_id)
    if carrier_id is not None and role in BOUND_ROLES:  # the demo staff signed and trained today, for a year
        for kind in KINDS:
            db_session.add(StaffObligation(carrier_id=carrier_id, user_id=user.id, kind=kind, version="demo-1",
                                           signed_on=today(), expires_on=today() + timedelta(days=365)))
    return True
