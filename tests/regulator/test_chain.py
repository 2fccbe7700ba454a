"""`make run`'s chain as an operator starts it: `parcelguard init --demo`, then `parcelguard run-all` (the
carrier platform, the regulator's platform and the uploader, three processes). A contract parcel taken
in on one side is on the other within seconds, and the carrier's sealed copy is gone; over HTTP, and with
PARCELGUARD_FEED=jetstream over NATS JetStream (run-all starts nats-server)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from parcelguard.identity.models import RealNameRecord
from parcelguard.regulator.platform.models import ReceivedRecord
from tests.nats_server import NATS_SERVER
from tests.servers import free_port
from tests.support import count_rows, demo_chain

PARCEL = {"sender": {"phone": "13800000005", "address": "北京市朝阳区演示路5号"},
          "recipient": {"name": "司马演示", "phone": "13800000006",
                        "address": {"province": "上海市", "city": "上海市", "district": "浦东新区", "detail": "示例路6号"}},
          "items": [{"description": "羽绒服", "category": "clothing", "quantity": 2}]}




@pytest.mark.parametrize("feed", ["http", "jetstream"])
def test_run_all_carries_a_parcel_to_the_regulator_and_drops_the_sealed_copy(tmp_path: Path, feed: str) -> None:
    extra = {}
    if feed == "jetstream":  # run-all starts nats-server; the uploader's HTTP address leads nowhere
        if not Path(NATS_SERVER).exists():
            pytest.skip("nats-server is not installed (Debian: apt-get install nats-server)")
        extra = {"PARCELGUARD_FEED": "jetstream", "PARCELGUARD_NATS_URL": f"nats://127.0.0.1:{free_port()}",
                 "PARCELGUARD_REGULATOR_URL": f"http://127.0.0.1:{free_port()}"}
    with demo_chain(tmp_path / "var", extra_env=extra) as (url, _):
        token = httpx.post(f"{url}/api/v1/auth/token", data={"username": "demo-shop",
                                                              "password": "parcelguard-demo"}).json()["access_token"]
        r = httpx.post(f"{url}/api/v1/shipments:batch", json={"shipments": [PARCEL]},
                       headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert r.json()["accepted"] == 1, r.text
        deadline = time.monotonic() + 30
        while True:
            metrics = dict(line.rsplit(" ", 1) for line in httpx.get(f"{url}/metrics").text.splitlines()
                           if not line.startswith("#"))
            if metrics["parcelguard_regulator_records_delivered_total"] == "1":
                break
            assert time.monotonic() < deadline, metrics
            time.sleep(0.2)
    var = tmp_path / "var"
    assert count_rows(f"sqlite:///{var / 'parcelguard.db'}", RealNameRecord, RealNameRecord.sealed.is_not(None)) == 0
    assert count_rows(f"sqlite:///{var / 'parcelguard.db'}", RealNameRecord) == 1
    assert count_rows(f"sqlite:///{var / 'regulator.db'}", ReceivedRecord) == 1
