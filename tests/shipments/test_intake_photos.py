"""Inspection photos at intake: multipart over HTTP, checked for size and type from their bytes, stored
only encrypted; a refused photo refuses the parcel and writes nothing."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from parcelguard.core.auth import Role
from parcelguard.shipments import photos
from parcelguard.shipments.models import InspectionPhoto, Shipment
from tests.shipments.images import jpeg_header, png
from tests.tenants import Tenant

ID_NUMBER = "11010519491231002X"


def intake(inspected: bool = True) -> dict:
    return {
        "sender": {"document": {"type": "resident_id", "number": ID_NUMBER, "name": "欧阳寄件人"},
                   "phone": "13911112222", "address": "北京市朝阳区寄件路1号"},
        "recipient": {"name": "司马收件人", "phone": "13733334444",
                      "address": {"province": "上海市", "city": "上海市", "district": "浦东新区",
                                  "detail": "收件大道9号 1202室"}},
        "items": [{"description": "充电宝 20000mAh", "category": "electronics", "quantity": 1}],
        "inspection": {"inspected": inspected},
    }


@pytest.fixture
def courier(http: httpx.Client, tenant: Tenant) -> dict[str, str]:
    manager = tenant.login(http, Role.STATION_MANAGER)
    terminal = http.post("/api/v1/terminals", headers=manager, json={"serial": f"PDA-{uuid.uuid4().hex[:8]}",
                                                                      "label": "handheld"}).json()["id"]
    return tenant.login(http, Role.COURIER, terminal_id=terminal)


def send(http: httpx.Client, headers: dict[str, str], body: dict, files: list) -> httpx.Response:
    return http.post("/api/v1/shipments", headers=headers, data={"shipment": json.dumps(body)}, files=files)


def stored(engine: Engine, carrier: uuid.UUID) -> tuple[int, int]:
    with engine.connect() as conn:
        return (conn.scalar(select(func.count()).select_from(Shipment).where(Shipment.carrier_id == carrier)) or 0,
                conn.scalar(select(func.count()).select_from(InspectionPhoto)
                            .where(InspectionPhoto.carrier_id == carrier)) or 0)


def test_photos_taken_at_the_inspection_are_stored_encrypted(
    http: httpx.Client, engine: Engine, tenant: Tenant, courier: dict[str, str]
) -> None:
    images = [png(120, 90), jpeg_header()]
    r = send(http, courier, intake(), [("photos", ("a.png", images[0], "image/png")),
                                       ("photos", ("b.jpg", images[1], "image/jpeg"))])
    assert r.status_code == 201, r.text
    assert r.json()["photos"] == 2
    with engine.connect() as conn:
        rows = conn.execute(select(InspectionPhoto).where(
            InspectionPhoto.shipment_id == uuid.UUID(r.json()["id"])).order_by(InspectionPhoto.size.desc())).all()
    assert [(p.content_type, p.size) for p in rows] == [("image/png", len(images[0])), ("image/jpeg", len(images[1]))]
    for row, image in zip(rows, images, strict=True):
        assert image[:8] not in row.image and image[-32:] not in row.image
        assert row.taken_by == tenant.account(Role.COURIER).user_id


@pytest.mark.parametrize(("files", "code"), [
    ([("photos", ("notes.txt", b"not an image at all, just some text" * 4, "text/plain"))], "photo_type"),
    ([("photos", ("a.png", png(8, 8), "image/jpeg"))], "photo_type_mismatch"),
    ([("photos", ("big.png", b"\x89PNG\r\n\x1a\n" + bytes(photos.MAX_PHOTO_BYTES), "image/png"))],
     "photo_too_large"),
    ([("photos", (f"{n}.png", png(8, 8, seed=n), "image/png")) for n in range(photos.MAX_PHOTOS + 1)],
     "photo_count"),
])
def test_a_bad_photo_refuses_the_parcel_and_writes_nothing(
    http: httpx.Client, engine: Engine, tenant: Tenant, courier: dict[str, str], files: list, code: str
) -> None:
    r = send(http, courier, intake(), files)
    assert r.status_code == 422, r.text
    assert code in {e["code"] for e in r.json()["errors"]}
    assert stored(engine, tenant.carrier_id) == (0, 0)


def test_photos_need_a_recorded_inspection_and_the_json_part_is_checked_as_json_is(
    http: httpx.Client, engine: Engine, tenant: Tenant, courier: dict[str, str]
) -> None:
    plain = intake(inspected=False)
    plain["items"] = [{"description": "羽绒服", "category": "clothing", "quantity": 1}]
    r = send(http, courier, plain, [("photos", ("a.png", png(8, 8), "image/png"))])
    assert [e["code"] for e in r.json()["errors"]] == ["photos_without_inspection"]
    broken = http.post("/api/v1/shipments", headers=courier, data={"shipment": '{"sender": '},
                       files=[("photos", ("a.png", png(8, 8), "image/png"))])
    assert broken.status_code == 400 and broken.json()["code"] == "malformed_json"
    missing = http.post("/api/v1/shipments", headers=courier, data={"shipment": json.dumps({**intake(), "items": 3})},
                        files=[("photos", ("a.png", png(8, 8), "image/png"))])
    assert missing.status_code == 422 and missing.json()["errors"][0]["pointer"] == "/shipment/items"
    assert stored(engine, tenant.carrier_id) == (0, 0)


def test_an_upload_past_the_limit_is_cut_off_with_413(
    http: httpx.Client, engine: Engine, tenant: Tenant, courier: dict[str, str]
) -> None:
    files = [("photos", (f"{n}.png", b"\x89PNG\r\n\x1a\n" + bytes(photos.MAX_PHOTO_BYTES), "image/png"))
             for n in range(photos.MAX_PHOTOS + 1)]
    r = send(http, courier, intake(), files)
    assert r.status_code == 413 and r.json()["code"] == "body_too_large"
    assert stored(engine, tenant.carrier_id) == (0, 0)


@given(st.binary(max_size=200), st.sampled_from([
    (b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"), (b"RIFF\x10\x00\x00\x00WEBP", "image/webp")]))
def test_the_type_comes_from_the_bytes_signature_and_nothing_else(tail: bytes, signature: tuple[bytes, str]) -> None:
    prefix, kind = signature
    assert photos.sniff(prefix + tail) == kind
    checked = photos.check([photos.Photo(declared_type="image/png", data=prefix + tail)])
    big_enough = len(prefix + tail) >= photos.MIN_PHOTO_BYTES
    expected = ["photo_type"] if not big_enough else [] if kind == "image/png" else ["photo_type_mismatch"]
    assert [e.code for e in checked] == expected
    assume(not tail.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"RIFF")))
    assert photos.sniff(tail) is None
