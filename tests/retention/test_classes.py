"""The data classes (issue 15, promise 6): every class the code encrypts under is registered, every class is
in docs/retention.md's table, defaults keep the minimums, legacy names resolve, and a parcel taken in now
stores each field under a data key of its own class (on both engines), while rows written under the old
names still open."""

from __future__ import annotations

import ast
import dataclasses
import re
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

import parcelguard
import parcelguard.tables  # Base.metadata complete
from parcelguard.audit import service as audit
from parcelguard.core import db
from parcelguard.core.auth import Actor, Role
from parcelguard.crypto import envelope
from parcelguard.crypto.keyring import Keyring
from parcelguard.crypto.models import DataKey
from parcelguard.crypto.types import Aad
from parcelguard.identity import otp
from parcelguard.identity import service as identity
from parcelguard.identity.models import SenderRegistration
from parcelguard.regulator.platform.models import PlatformBase
from parcelguard.retention import classes
from parcelguard.retention.classes import CLASSES, LEGACY, LEGACY_HELD, DataClass, class_of
from parcelguard.shipments import flows, photos
from parcelguard.shipments import service as shipments
from parcelguard.shipments.models import InspectionPhoto, Shipment, ShipmentItem
from tests.identity.realname import RecordingSender, valid_id
from tests.servers import TEST_REGULATOR_PUBLIC
from tests.shipments.images import png
from tests.tenants import CANARY, Tenant, writing

SRC = Path(parcelguard.__file__).parent
DOCS = Path(__file__).resolve().parents[2] / "docs" / "retention.md"
REGISTRY = "parcelguard.retention.classes"
KEYRING_CALLS = {"encrypt", "rebind"}  # Keyring's, keyword-only: a call with keywords is the keyring's


# -- every data_class= in the source names a registered class ---------------------------------------------

class _ClassNames(ast.NodeVisitor):
    """What each `data_class=` of a keyring call in one module resolves to: registry constants
    (`classes.X.name`, `X.name` imported from the registry), module-level names bound to them, and
    module-level dicts of them (every value). Anything else is reported as it is written."""

    def __init__(self, module: str, tree: ast.Module) -> None:
        self.module = module
        self.found: list[tuple[str, int, str]] = []
        self.registry_modules: set[str] = set()  # local names of the registry module
        self.registry_names: set[str] = set()  # constants imported from it by name
        self.assigned: dict[str, ast.expr] = {}
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module == "parcelguard.retention":
                self.registry_modules |= {a.asname or a.name for a in node.names if a.name == "classes"}
            elif isinstance(node, ast.ImportFrom) and node.module == REGISTRY:
                self.registry_names |= {a.asname or a.name for a in node.names}
            elif isinstance(node, ast.Import):
                self.registry_modules |= {a.asname for a in node.names if a.name == REGISTRY and a.asname}
            elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                self.assigned[node.targets[0].id] = node.value
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
                self.assigned[node.target.id] = node.value

    def resolve(self, expr: ast.expr, depth: int = 0) -> list[str]:
        if depth > 5:
            return [f"<unresolved {ast.unparse(expr)}>"]
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            return [f"<literal {expr.value!r}>"]  # a name written at the call site: refused
        if isinstance(expr, ast.Attribute) and expr.attr == "name":
            base = expr.value
            if (isinstance(base, ast.Attribute) and isinstance(base.value, ast.Name)
                    and base.value.id in self.registry_modules):
                constant = getattr(classes, base.attr, None)
                return [constant.name] if isinstance(constant, DataClass) else [f"<no {base.attr} in the registry>"]
            if isinstance(base, ast.Name) and base.id in self.registry_names:
                constant = getattr(classes, base.id, None)
                return [constant.name] if isinstance(constant, DataClass) else [f"<no {base.id} in the registry>"]
        if isinstance(expr, ast.Name) and expr.id in self.assigned:
            return self.resolve(self.assigned[expr.id], depth + 1)
        if isinstance(expr, ast.Subscript) and isinstance(expr.value, ast.Name):
            table = self.assigned.get(expr.value.id)
            if isinstance(table, ast.Dict) and table.values:
                return [n for v in table.values for n in self.resolve(v, depth + 1)]
        return [f"<unresolved {ast.unparse(expr)}>"]

    def visit_Call(self, node: ast.Call) -> None:
        name = node.func.attr if isinstance(node.func, ast.Attribute) else None
        if name in KEYRING_CALLS and node.keywords:
            given = [k.value for k in node.keywords if k.arg == "data_class"]
            if not given:
                self.found.append((self.module, node.lineno, "<no data_class: Keyring's default>"))
            for value in given:
                self.found.extend((self.module, node.lineno, n) for n in self.resolve(value))
        self.generic_visit(node)


def data_class_names(source: dict[str, str] | None = None) -> list[tuple[str, int, str]]:
    """(module, line, class name) of every keyring encrypt/rebind call outside crypto/ (which passes its
    caller's class through)."""
    if source is None:
        source = {p.relative_to(SRC).as_posix(): p.read_text() for p in SRC.rglob("*.py")}
    found = []
    for rel, text in sorted(source.items()):
        if rel.startswith("crypto/"):
            continue
        tree = ast.parse(text, filename=rel)
        visitor = _ClassNames(rel, tree)
        visitor.visit(tree)
        found += visitor.found
    return found


def test_every_class_the_code_encrypts_under_is_registered_and_shredded() -> None:
    found = data_class_names()
    assert [f for f in found if f[2] not in CLASSES] == []
    assert [f for f in found if CLASSES[f[2]].mechanism != "shred"] == []
    # Not vacuous: the encrypt sites of the issue are all seen, each with its classes.
    by_module: dict[str, set[str]] = {}
    for module, _, name in found:
        by_module.setdefault(module, set()).add(name)
    assert by_module["shipments/service.py"] == {"recipient_contact", "sender_contact", "sender_phone",
                                                 "item_description"}
    assert by_module["identity/service.py"] == {"realname_registration"}
    assert by_module["shipments/photos.py"] == {"inspection_photo"}
    assert by_module["shipments/reclass.py"] == {"legal_hold"}
    assert set(shipments.FIELD_CLASSES) == set(shipments.PERSONAL_FIELDS)  # every personal field has its class


def test_the_walk_refuses_a_literal_a_missing_class_and_what_it_cannot_resolve() -> None:
    planted = {
        "tracking/service.py": (
            "from parcelguard.retention import classes\n"
            "from parcelguard.retention.classes import SCAN_EVENT\n"
            "KINDS = {'a': classes.CALL_RECORD.name}\n"
            "def f(k, s, x):\n"
            "    k.encrypt(db_session=s, data_class='waybill')\n"
            "    k.encrypt(db_session=s, plaintext=b'')\n"
            "    k.rebind(db_session=s, data_class=x)\n"
            "    k.encrypt(db_session=s, data_class=KINDS[x])\n"
            "    k.encrypt(db_session=s, data_class=SCAN_EVENT.name)\n"
            "    k.encrypt(db_session=s, data_class=classes.NOPE.name)\n"
            "    aead.encrypt(nonce, data, aad)\n"
        ),
        "crypto/keyring.py": "def rebind(self, data_class):\n    self.encrypt(db_session=1, data_class=data_class)\n",
    }
    assert [(line, name) for _, line, name in data_class_names(planted)] == [
        (5, "<literal 'waybill'>"), (6, "<no data_class: Keyring's default>"), (7, "<unresolved x>"),
        (8, "call_record"), (9, "scan_event"), (10, "<no NOPE in the registry>")]


# -- the registry and its table ----------------------------------------------------------------------------

def table_rows() -> dict[str, list[str]]:
    """docs/retention.md's class table: class name -> its cells."""
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("## The classes", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        match = re.match(r"^\| `([a-z_0-9]+)` \|", line)
        if match:
            rows[match.group(1)] = [cell.strip() for cell in line.strip().strip("|").split("|")]
    return rows


def test_every_class_is_in_the_docs_table_as_the_registry_says() -> None:
    rows = table_rows()
    assert sorted(rows) == sorted(CLASSES)
    for name, cells in rows.items():
        c = CLASSES[name]
        assert len(cells) == 6, name  # class, what it covers, mechanism, default, minimum, rule
        assert (cells[2], cells[3], cells[4]) == (c.mechanism, f"{c.default_months} months",
                                                  f"{c.minimum_months} months" if c.minimum_months > 1 else "1 month")
        assert cells[5], f"{name}: the rule it follows"


def test_defaults_keep_the_minimums_and_the_electronic_waybill_two_years() -> None:
    for c in CLASSES.values():
        assert 1 <= c.minimum_months <= c.default_months, c.name
        assert c.what_en and c.what_zh and c.covers, c.name
    # GB/T 27917: electronic waybill data at least 2 years, whatever a carrier sets.
    assert {c.name for c in classes.ELECTRONIC_WAYBILL} >= {"recipient_contact", "sender_contact", "sender_phone",
                                                          "item_description"}
    for c in classes.ELECTRONIC_WAYBILL:
        assert c.minimum_months >= 24 and c.default_months >= 24, c.name
    # PIPL art. 19: what serves one dispute, or stands for an ID document, is kept much shorter.
    for c in (classes.INSPECTION_PHOTO, classes.CALL_RECORD, classes.REALNAME_REGISTRATION):
        assert c.default_months <= 12, c.name
    with pytest.raises(ValueError):
        dataclasses.replace(classes.RECIPIENT_CONTACT, default_months=12)
    with pytest.raises(ValueError):
        dataclasses.replace(classes.RECIPIENT_CONTACT, mechanism="forget")  # type: ignore[arg-type]


def test_what_a_class_covers_names_real_tables_and_columns() -> None:
    tables = {**db.Base.metadata.tables, **PlatformBase.metadata.tables}
    for c in CLASSES.values():
        for place in c.covers:
            if " " in place:  # an artefact described in words
                continue
            table, _, column = place.partition(".")
            assert table in tables, f"{c.name}: no table {table}"
            assert not column or column in tables[table].c, f"{c.name}: no column {place}"


def test_legacy_names_resolve_to_the_longest_retention_of_what_they_held() -> None:
    assert set(LEGACY) == {"waybill", "realname", "inspection", "default"}
    assert set(LEGACY_HELD["waybill"]) == {classes.RECIPIENT_CONTACT, classes.SENDER_CONTACT, classes.SENDER_PHONE,
                                           classes.ITEM_DESCRIPTION}
    for name, held in LEGACY_HELD.items():
        resolved = class_of(name)
        assert resolved in held and resolved is CLASSES[resolved.name]
        assert resolved.default_months == max(c.default_months for c in held)
        assert resolved.minimum_months == max(c.minimum_months for c in held if c.default_months
                                              == resolved.default_months)
    assert class_of("realname") is classes.REALNAME_REGISTRATION
    assert class_of("inspection") is classes.INSPECTION_PHOTO
    assert class_of("waybill").minimum_months == 24 and class_of("default").minimum_months == 24
    assert all(class_of(name) is c for name, c in CLASSES.items())
    assert not set(LEGACY) & set(CLASSES)
    with pytest.raises(KeyError):
        class_of("nonsense")
    legacy = DOCS.read_text(encoding="utf-8").split("## Legacy classes", 1)[1]
    assert all(f"| `{name}` |" in legacy for name in LEGACY)


# -- on the database -----------------------------------------------------------------------------------

def class_of_ciphertext(engine: Engine, ciphertext: bytes) -> str:
    """The data class of the data key a ciphertext names (`crypto_data_keys`, by the key id in its header)."""
    with engine.connect() as conn:
        return str(conn.scalar(select(DataKey.data_class).where(DataKey.id == envelope.key_id_of(ciphertext))))


def courier_on_terminal(tenant: Tenant) -> Actor:
    return dataclasses.replace(tenant.actor(Role.COURIER), terminal_id=uuid.uuid4())


def intake(sender: dict[str, object], **changes: object) -> flows.IntakeRequest:
    return flows.IntakeRequest(**{
        "sender_address": "北京市朝阳区寄件路1号", "recipient_name": "司马收件", "recipient_phone": "13733334444",
        "recipient_region": shipments.Region("上海市", "上海市", "浦东新区"), "recipient_detail": "收件大道9号",
        "items": [shipments.Item(description="羽绒服", category="clothing", quantity=1)],
        **sender, **changes})  # type: ignore[arg-type]


def test_a_parcel_taken_in_now_stores_each_field_under_a_key_of_its_class(
    engine: Engine, keyring: Keyring, tenant: Tenant
) -> None:
    sms = RecordingSender()
    with writing(engine) as s:
        sent = identity.register_sender(
            db_session=s, keyring=keyring, sms=sms, policy=otp.Policy(), carrier_slug=tenant.slug,
            doc_type="resident_id", number=valid_id(), name="慕容寄件", phone="13966667777",
            regulator_public_key=TEST_REGULATOR_PUBLIC)
    with writing(engine) as s:
        token = identity.verify_sender(db_session=s, keyring=keyring, policy=otp.Policy(), carrier_slug=tenant.slug,
                                       registration_id=sent.registration_id, code=sms.last_code()).token
    courier = courier_on_terminal(tenant)
    typed = {"sender_document": flows.SenderDocument(doc_type="resident_id", number=valid_id(), name="欧阳寄件"),
             "sender_phone": "13911112222"}
    taken = []
    for request in (intake(typed, inspected=True, photos=[photos.Photo("image/png", png(8, 8))]),
                    intake({"sender_document": None, "sender_phone": None, "realname_token": token})):
        with writing(engine) as s:  # the second moves the registration's name and phone over (Keyring.rebind)
            taken.append(flows.take_in(db_session=s, keyring=keyring, actor=courier, request=request,
                                       regulator_public_key=TEST_REGULATOR_PUBLIC).shipment_id)

    stored: list[tuple[str, str, bytes]] = []  # (table, column, ciphertext)
    with engine.connect() as conn:
        for shipment_id in taken:
            row = conn.execute(select(Shipment).where(Shipment.id == shipment_id)).one()
            stored += [("shipments", name, getattr(row, name)) for name in shipments.PERSONAL_FIELDS]
            stored += [("shipment_items", "description", d) for d in conn.scalars(
                select(ShipmentItem.description).where(ShipmentItem.shipment_id == shipment_id))]
        [image] = conn.scalars(select(InspectionPhoto.image).where(InspectionPhoto.shipment_id == taken[0]))
        registration = conn.execute(select(SenderRegistration).where(
            SenderRegistration.id == sent.registration_id)).one()
    stored += [("inspection_photos", "image", image), ("realname_registrations", "name", registration.name),
               ("realname_registrations", "phone", registration.phone)]
    expected = {
        **{("shipments", name): shipments.FIELD_CLASSES[name] for name in shipments.PERSONAL_FIELDS},
        ("shipment_items", "description"): "item_description", ("inspection_photos", "image"): "inspection_photo",
        ("realname_registrations", "name"): "realname_registration",
        ("realname_registrations", "phone"): "realname_registration",
    }
    assert {name: expected[("shipments", name)] for name in shipments.PERSONAL_FIELDS} == {
        "recipient_name": "recipient_contact", "recipient_phone": "recipient_contact",
        "recipient_address": "recipient_contact", "sender_name": "sender_contact", "sender_address": "sender_contact",
        "sender_phone": "sender_phone"}
    assert len(stored) == 2 * 7 + 3
    for table, column, ciphertext in stored:
        data_class = class_of_ciphertext(engine, ciphertext)
        assert data_class == expected[(table, column)], (table, column)
        assert f"{table}.{column}" in CLASSES[data_class].covers  # the registry says where its data lives


def test_rows_written_under_the_old_class_names_still_open(engine: Engine, keyring: Keyring, tenant: Tenant) -> None:
    """Databases hold ciphertexts under `waybill` and `realname` keys: the gate still reveals them, and a
    registration made before the classes moves to a new shipment under the shipment's classes."""
    shipment_id = tenant.shipment(keyring)
    with writing(engine) as s:  # as intake wrote them before the classes
        legacy = {name: keyring.encrypt(db_session=s, carrier_id=tenant.carrier_id, plaintext=getattr(CANARY, name),
                                        aad=shipments.aad(shipment_id, name), data_class="waybill")
                  for name in ("recipient_name", "recipient_address")}
        s.execute(update(Shipment).where(Shipment.id == shipment_id).values(**legacy))
    assert {class_of_ciphertext(engine, c) for c in legacy.values()} == {"waybill"}
    courier = courier_on_terminal(tenant)
    tenant.assign(shipment_id, courier, shipments.Task.DELIVERY)
    with db.make_sessionmaker(engine)() as s:
        db.begin_write(s)
        revealed = audit.reveal(s, courier, f"shipment:{shipment_id}", ["recipient_name", "recipient_address"],
                                "delivery", keyring=keyring)
        s.commit()
    assert revealed.fields == {"recipient_name": CANARY.recipient_name, "recipient_address": CANARY.recipient_address}

    registration_id = uuid.uuid4()
    with writing(engine) as s:
        old = {f"sender_{f}": (keyring.encrypt(db_session=s, carrier_id=tenant.carrier_id, plaintext=value,
                                               aad=Aad("realname_registrations", f, registration_id),
                                               data_class="realname"),
                               Aad("realname_registrations", f, registration_id))
               for f, value in (("name", "慕容旧注册"), ("phone", "+8613966660000"))}
        [moved_id] = shipments.create_many(db_session=s, keyring=keyring, carrier_id=tenant.carrier_id, shipments=[
            shipments.NewShipment(parties=dataclasses.replace(CANARY, sender_name="-", sender_phone="-"),
                                  origin_station_id=tenant.stations[0], encrypted_fields=old)])
    with db.make_sessionmaker(engine)() as s:
        moved = s.get(Shipment, moved_id)
        assert moved is not None
        assert (class_of_ciphertext(engine, moved.sender_name), class_of_ciphertext(engine, moved.sender_phone)) == (
            "sender_contact", "sender_phone")
        assert keyring.decrypt(db_session=s, carrier_id=tenant.carrier_id, ciphertext=moved.sender_phone,
                               aad=shipments.aad(moved_id, "sender_phone")) == b"+8613966660000"
