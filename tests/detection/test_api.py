"""Detection's routes on a real server (the platform's app with them included, under uvicorn), on both engines:
HQ security tunes the thresholds and each change is logged; a run now raises its findings as alerts the HQ
console lists, once; departure reports are read by HQ security and auditors only. Also the command
`parcelguard detect run`, and a client enumerating the public tracking lookup."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from parcelguard import cli
from parcelguard.audit import log
from parcelguard.audit.models import Alert
from parcelguard.core import db
from parcelguard.core.auth import Role
from parcelguard.core.clock import now
from parcelguard.core.config import Settings, encode_root_key, get_settings
from parcelguard.crypto.keyring import Keyring
from parcelguard.detection import service, thresholds
from parcelguard.detection.api import router
from parcelguard.detection.models import DetectionRun
from parcelguard.tracking import service as tracking
from parcelguard.web.app import create_app
from tests.conftest import TEST_ROOT_KEY
from tests.detection.test_departures import leaver_world
from tests.detection.world import DELIVERY_FIELDS, World
from tests.servers import app_in_thread
from tests.tenants import Tenant, writing

SETTINGS = "/api/v1/detection/settings"


@pytest.fixture(scope="module")
def api(database_url: str) -> Iterator[str]:
    """The platform's app with detection's routes (included here until web/app.py includes them itself)."""
    app = create_app(Settings(database_url=database_url, root_key=SecretStr(encode_root_key(TEST_ROOT_KEY)),
                              detection_interval_seconds=0))
    if not any(getattr(route, "path", "") == SETTINGS for route in app.routes):
        app.include_router(router, prefix="/api/v1")
    with app_in_thread(app) as url:
        yield url


@pytest.fixture
def http(api: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api, timeout=60) as client:
        yield client


def prober_world(engine: Engine, keyring: Keyring, *, denials: int = 60) -> tuple[World, str]:
    """Eight couriers at one station with a week of ordinary work up to now, and one who today tries `denials`
    parcels that are not theirs."""
    world = World.create(engine, keyring, seed=3, stations=1, days=7, until=now().replace(microsecond=0))
    couriers = world.add_people("courier", 8, prefix="c", station=0)
    [prober] = world.add_people("courier", 1, prefix="p", station=0)
    world.ordinary([*couriers, prober], days=range(7, 0, -1))
    world.ordinary(couriers, days=range(1))
    world.courier_day(prober, 0)
    for parcel in world.rng.sample(world.station_parcels[0], denials):
        world.reveal(world.people[prober], parcel, world.at(0, world.rng.uniform(9, 16)), "delivery",
                     DELIVERY_FIELDS, reason="not_assigned")
    world.write()
    return world, prober


def test_hq_security_tunes_the_thresholds_and_each_change_is_logged(
    http: httpx.Client, tenant: Tenant, engine: Engine
) -> None:
    officer, auditor = tenant.login(http, Role.HQ_SECURITY), tenant.login(http, Role.AUDITOR)
    r = http.get(SETTINGS, headers=auditor)
    assert r.status_code == 200, r.text
    assert r.json() == {"source": "default", "updated_at": None, "thresholds": thresholds.DEFAULTS.model_dump()}

    r = http.put(SETTINGS, json={"self_z": 6, "history_days": 21}, headers=officer)
    assert r.status_code == 200, r.text
    assert r.json()["source"] == "carrier" and r.json()["updated_at"]
    assert r.json()["thresholds"] == {**thresholds.DEFAULTS.model_dump(), "self_z": 6, "history_days": 21}

    for bad, pointer in (({"self_z": 0}, "/self_z"), ({"off_shift_min_share": 2}, "/off_shift_min_share"),
                         ({"thresholds_of_my_own": 1}, "/thresholds_of_my_own")):
        r = http.put(SETTINGS, json=bad, headers=officer)
        assert r.status_code == 422 and r.json()["code"] == "validation_failed", r.text
        assert [e["pointer"] for e in r.json()["errors"]] == [pointer]
    assert http.get(SETTINGS, headers=officer).json()["thresholds"]["self_z"] == 6  # nothing written

    assert http.put(SETTINGS, json={}, headers=auditor).status_code == 403
    assert http.get(SETTINGS, headers=tenant.login(http, Role.COURIER)).status_code == 403
    assert http.get(SETTINGS, headers=tenant.login(http, Role.STATION_MANAGER)).status_code == 403

    r = http.delete(SETTINGS, headers=officer)
    assert r.status_code == 200 and r.json()["source"] == "default"
    with writing(engine) as s:
        logged = [e.document()["entry"] for e in log.find_entries(db_session=s, carrier_id=tenant.carrier_id,
                                                                  subject=thresholds.SUBJECT)]
    assert [(e["purpose"], e["actor"], e["role"]) for e in logged] == [
        (thresholds.CHANGED, str(tenant.account(Role.HQ_SECURITY).user_id), "hq_security"),
        (thresholds.RESET, str(tenant.account(Role.HQ_SECURITY).user_id), "hq_security")]
    assert all(e["fields"] == [] for e in logged)


def test_a_run_now_raises_its_findings_once_and_the_hq_console_lists_them(
    http: httpx.Client, engine: Engine, keyring: Keyring
) -> None:
    world, prober = prober_world(engine, keyring)
    tenant, prober_id = world.tenant, str(world.people[prober].user_id)
    officer = tenant.login(http, Role.HQ_SECURITY)
    assert http.post("/api/v1/detection/runs", headers=tenant.login(http, Role.COURIER)).status_code == 403
    assert http.post("/api/v1/detection/runs", json={"hours": 0}, headers=officer).status_code == 422

    r = http.post("/api/v1/detection/runs", json={"hours": 24}, headers=officer)
    assert r.status_code == 201, r.text
    run = r.json()
    [finding] = [f for f in run["found"] if f["actor_id"] == prober_id]
    assert finding["kind"] == "denied_reveals" and finding["new"] is True
    assert finding["detail"]["denied"]["value"] == 60 and finding["detail"]["thresholds"]["denied_min"] == 20
    assert run["alerts_raised"] == sum(f["new"] for f in run["found"]) >= 1
    assert run["trigger"] == "api" and run["actors"] == 9

    again = http.post("/api/v1/detection/runs", headers=officer).json()  # the carrier's window: 24 hours
    assert again["alerts_raised"] == 0 and not any(f["new"] for f in again["found"])
    runs = http.get("/api/v1/detection/runs", headers=tenant.login(http, Role.AUDITOR)).json()
    assert [r["id"] for r in runs] == [again["id"], run["id"]]

    [alert] = http.get("/api/v1/alerts", params={"kind": "denied_reveals"}, headers=officer).json()
    assert alert["actor_id"] == prober_id and alert["audit_index"] == finding["audit_index"]

    account = tenant.account(Role.HQ_SECURITY)
    r = http.post("/hq/login", data={"username": account.username, "password": account.password})
    assert r.status_code == 303, r.text
    page = http.get("/hq", params={"kind": "denied_reveals"}).text
    assert "多次查看被拒" in page and f"{tenant.slug}-p0" in page


def test_departure_reports_are_for_hq_security_and_auditors(
    http: httpx.Client, engine: Engine, keyring: Keyring
) -> None:
    world, leaver, expected = leaver_world(engine, keyring)
    tenant, user_id = world.tenant, world.people[leaver].user_id
    manager = tenant.login(http, Role.STATION_MANAGER)
    assert http.post(f"/api/v1/users/{user_id}/retire", headers=manager).status_code == 200

    officer, auditor = tenant.login(http, Role.HQ_SECURITY), tenant.login(http, Role.AUDITOR)
    [listed] = http.get("/api/v1/detection/departures", headers=officer).json()
    assert listed["user_id"] == str(user_id) and listed["reveals"] == expected["reveals"]
    assert "breakdown" not in listed
    r = http.get(f"/api/v1/detection/departures/{user_id}", headers=auditor)
    assert r.status_code == 200, r.text
    assert r.json()["breakdown"]["by_purpose"] == expected["by_purpose"]
    assert r.json()["untasked"] == 3 and r.json()["off_shift"] == 6
    assert http.get(f"/api/v1/detection/departures/{user_id}", headers=manager).status_code == 403
    r = http.get(f"/api/v1/detection/departures/{uuid.uuid4()}", headers=officer)
    assert r.status_code == 404 and r.json()["code"] == "departure_report_unknown"


def test_the_command_runs_detection_and_a_second_run_raises_nothing_new(
    engine: Engine, keyring: Keyring, database_url: str, tmp_path: Path
) -> None:
    world, _ = prober_world(engine, keyring, denials=30)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARCELGUARD_")}
    env.update(PARCELGUARD_DATABASE_URL=database_url, PARCELGUARD_ROOT_KEY=encode_root_key(TEST_ROOT_KEY),
               PARCELGUARD_VAR_DIR=str(tmp_path / "var"), COLUMNS="250")
    outputs = []
    for _ in range(2):
        get_settings.cache_clear()
        try:
            result = CliRunner().invoke(cli.app, ["detect", "run", "--carrier", world.tenant.slug, "--hours", "24"],
                                        env=env)
        finally:
            get_settings.cache_clear()
        assert result.exit_code == 0, (result.stdout, result.exception)
        outputs.append(result.stdout)
    assert f"carrier {world.tenant.slug}:" in outputs[0] and "9 account(s)" in outputs[0]
    assert "1 new alert(s) (denied_reveals)" in outputs[0]
    assert "0 new alert(s) (none new)" in outputs[1]


def test_a_client_guessing_tracking_numbers_is_an_alert_named_by_a_digest(engine: Engine, tenant: Tenant) -> None:
    key = f"test-{uuid.uuid4().hex}"
    moment = (now() - timedelta(hours=2)).timestamp()
    for n in range(260):
        tracking.count_lookup(engine, key, miss=n % 10 != 0, moment=moment)
    with writing(engine) as s:
        result = service.run(db_session=s, carrier_id=tenant.carrier_id, window=timedelta(hours=24))
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    [finding] = [f for f in result.raised if f.subject == f"client-{digest}"]
    assert finding.kind == "tracking_enumeration" and finding.actor_id is None
    assert (finding.detail["lookups"], finding.detail["misses"], finding.detail["hours"]) == (260, 234, 1)
    assert key not in repr(finding.detail) and key not in finding.dedupe_key


def test_the_server_runs_detection_on_its_schedule(fresh_url: str, keyring: Keyring) -> None:
    """`PARCELGUARD_DETECTION_INTERVAL_SECONDS`: the server's own loop finds the prober. On a database of its own:
    the loop runs over every carrier, and other tests' carriers are not for it to judge."""
    db.upgrade(fresh_url)
    engine = db.make_engine(fresh_url)
    try:
        world, prober = prober_world(engine, keyring)
        app = create_app(Settings(database_url=fresh_url, root_key=SecretStr(encode_root_key(TEST_ROOT_KEY)),
                                  detection_interval_seconds=0.5))
        with app_in_thread(app):
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with engine.connect() as conn:
                    kinds = set(conn.scalars(select(Alert.kind).where(Alert.actor_id == world.people[prober].user_id)))
                if kinds:
                    break
                time.sleep(0.5)
        assert kinds == {"denied_reveals"}
        with engine.connect() as conn:
            assert set(conn.scalars(select(DetectionRun.trigger))) == {"schedule"}
    finally:
        engine.dispose()
