"""The canary scan: after staff documents registered, reported, refused and queried with known document
numbers and names, neither the blacklist's database (its SQLite file with its write-ahead log, or every row of
its PostgreSQL database) nor any answer nor the carrier server's log holds a document number in any of its
forms (18 digits, 15 digits, with spaces, lower case) or a name."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy import Engine, MetaData, create_engine, select
from sqlalchemy.engine import make_url

from parcelguard.core.auth import Role
from parcelguard.crypto.keyring import Keyring
from tests.blacklist.conftest import (
    ReportingCarrier,
    Serve,
    forms,
    id_number,
    person_of,
    register_on_blacklist,
    staff,
)
from tests.servers import LiveServer
from tests.tenants import Tenant

NAMES = ("诸葛泄密", "欧阳内鬼", "司马偷单")
EVIDENCE = "CASE-CANARY-1"


def stored_bytes(url: str) -> bytes:
    """Everything the blacklist's database holds: a SQLite file as it lies on disk (with its -wal and -shm
    files, where the newest writes are), or every value of every row of every PostgreSQL table."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(str(parsed.database))
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists())
    engine = create_engine(url)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        chunks = []
        with engine.connect() as conn:
            for table in metadata.sorted_tables:
                for row in conn.execute(select(table)):
                    chunks += [v if isinstance(v, bytes) else str(v).encode() for v in row]
        return b"\n".join(chunks)
    finally:
        engine.dispose()


def test_the_blacklist_never_stores_nor_answers_a_document_number_nor_a_name(
    hiring: LiveServer, serve: Serve, blacklist: str, blacklist_url: str, engine: Engine, keyring: Keyring,
    blacklist_engine: Engine, carrier: ReportingCarrier,
) -> None:
    reporter, refuser = Tenant.create(engine=engine, keyring=keyring), Tenant.create(engine=engine, keyring=keyring)
    for tenant in (reporter, refuser):
        register_on_blacklist(engine, keyring, tenant, blacklist_engine)
    numbers = [id_number() for _ in NAMES]
    bodies: list[str] = []
    with httpx.Client(base_url=hiring.url, timeout=30) as http, \
            httpx.Client(base_url=serve(blacklist_url=blacklist), timeout=30) as app:
        admin = refuser.login(http, Role.ADMIN)
        bodies.append(http.patch("/api/v1/carrier/settings", json={"blacklist_policy": "refuse"}, headers=admin).text)
        manager, officer = reporter.login(http, Role.STATION_MANAGER), reporter.login(app, Role.HQ_SECURITY)
        for i, (number, name) in enumerate(zip(numbers, NAMES, strict=True)):
            insider = staff(engine, reporter, name)
            typed = forms(number)[i * 2]  # 18 digits; 15 digits; with spaces
            r = http.put(f"/api/v1/staff/{insider}/document", json={"number": typed}, headers=manager)
            assert r.status_code == 204, r.text
            r = app.post("/api/v1/blacklist/reports", headers=officer, json={
                "user_id": str(insider), "reason_code": "sold_user_data", "evidence_ref": EVIDENCE})
            assert r.status_code == 201, r.text
            bodies.append(r.text)
        refusing = refuser.login(http, Role.STATION_MANAGER)
        for number, name in zip(numbers, NAMES, strict=True):
            recruit = staff(engine, refuser, name)
            r = http.put(f"/api/v1/staff/{recruit}/document", json={"type": "resident_id", "number": number},
                         headers=refusing)
            assert r.status_code == 409, r.text
            bodies.append(r.text)
    for number in [*numbers, id_number()]:
        r = httpx.post(f"{blacklist}/api/v1/queries", json=carrier.query(person_of(number)))
        assert r.status_code == 200
        bodies.append(r.text)
    stored = stored_bytes(blacklist_url)

    assert EVIDENCE.encode() in stored  # the scan reads what was just written
    canaries = [form for number in numbers for form in forms(number)] + list(NAMES)
    log = hiring.log_text()
    for canary in canaries:
        assert canary.encode() not in stored, canary
        assert all(canary not in body for body in bodies), canary
        assert canary not in log, canary
