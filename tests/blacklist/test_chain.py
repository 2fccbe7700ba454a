"""The industry blacklist in `make run`'s chain: `parcelguard init --demo` registers the demo carrier on it and
`parcelguard run-all` starts it as a process of its own and points the carrier platform at it, so hiring checks
are on in the demo. Real processes, real HTTP, the databases in the chain's var/."""

from __future__ import annotations

from pathlib import Path

import httpx

from parcelguard.blacklist.platform.models import Entry, QueryLogEntry
from tests.blacklist.conftest import id_number
from tests.servers import free_port
from tests.support import count_rows, demo_chain


def login(http: httpx.Client, username: str) -> dict[str, str]:
    r = http.post("/api/v1/auth/token", data={"username": username, "password": "parcelguard-demo"})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_run_all_starts_the_blacklist_and_the_demo_carrier_checks_hiring_against_it(tmp_path: Path) -> None:
    blacklist_port = free_port()
    with demo_chain(tmp_path / "var", blacklist_port=blacklist_port) as (url, _), \
            httpx.Client(base_url=url, timeout=30) as http:
        assert httpx.get(f"http://127.0.0.1:{blacklist_port}/readyz").status_code == 200
        admin, security, manager = (login(http, u) for u in ("demo-admin", "demo-security", "demo-manager"))
        # Under `refuse` a blacklist that cannot answer (down, or not knowing the carrier's key) is 503
        # `blacklist_unreachable`: a 204 is the blacklist's `not listed`, asked with the demo carrier's key.
        changed = http.patch("/api/v1/carrier/settings", json={"blacklist_policy": "refuse"}, headers=admin)
        assert changed.status_code == 200 and changed.json()["blacklist_policy"] == "refuse", changed.text
        recruit = http.get("/api/v1/me", headers=manager).json()["id"]
        number = id_number()
        registered = http.put(f"/api/v1/staff/{recruit}/document", json={"number": number}, headers=admin)
        assert registered.status_code == 204, registered.text
        reported = http.post("/api/v1/blacklist/reports", headers=security, json={
            "user_id": recruit, "reason_code": "sold_user_data", "evidence_ref": "CASE-DEMO-1"})
        assert reported.status_code == 201 and reported.json()["status"] == "listed", reported.text
        refused = http.put(f"/api/v1/staff/{recruit}/document", json={"number": number}, headers=admin)
        assert refused.status_code == 409 and refused.json()["code"] == "staff_blacklisted", refused.text
    blacklist = f"sqlite:///{tmp_path / 'var' / 'blacklist.db'}"
    assert count_rows(blacklist, Entry) == 1 and count_rows(blacklist, QueryLogEntry) == 2
