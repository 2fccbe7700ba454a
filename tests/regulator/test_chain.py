"""`make run`'s chain as an operator starts it: `parcelguard init --demo`, then `parcelguard run-all` (the
carrier platform, the regulator's platform and the uploader, three processes). A contract parcel taken
in on one side is on the other within seconds, and the carrier's sealed copy is gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from parcelguard.identity.models import RealNameRecord
from parcelguard.regulator.platform.models import ReceivedRecord
from tests.servers import free_port, wait_until_up
from tests.support import count_rows

PARCEL = {"sender": {"phone": "13800000005", "address": "北京市朝阳区演示路5号"},
          "recipient": {"name": "司马演示", "phone": "13800000006",
                        "address": {"province": "上海市", "city": "上海市", "district": "浦东新区", "detail": "示例路6号"}},
          "items": [{"description": "羽绒服", "category": "clothing", "quantity": 2}]}




def test_run_all_carries_a_parcel_to_the_regulator_and_drops_the_sealed_copy(tmp_path: Path) -> None:
    port, regulator_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARCELGUARD_")}
    env.update(PARCELGUARD_VAR_DIR=str(tmp_path / "var"), PARCELGUARD_PORT=str(port),
               PARCELGUARD_REGULATOR_PORT=str(regulator_port))
    command = [sys.executable, "-m", "parcelguard"]
    init = subprocess.run([*command, "init", "--demo"], env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert init.returncode == 0, init.stderr
    assert "knows carrier demo" in init.stdout
    chain = subprocess.Popen([*command, "run-all"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, process=chain)
        wait_until_up(f"http://127.0.0.1:{regulator_port}", process=chain)
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
    finally:
        os.killpg(chain.pid, signal.SIGINT)
        assert chain.wait(timeout=30) == 0
    var = tmp_path / "var"
    assert count_rows(f"sqlite:///{var / 'parcelguard.db'}", RealNameRecord, RealNameRecord.sealed.is_not(None)) == 0
    assert count_rows(f"sqlite:///{var / 'parcelguard.db'}", RealNameRecord) == 1
    assert count_rows(f"sqlite:///{var / 'regulator.db'}", ReceivedRecord) == 1
