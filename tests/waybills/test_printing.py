"""Labels on a station's networked thermal printer, over HTTP on both engines: the manager names the
terminal's printer (an address of the station's own network only), the courier prints through the gate
from the API and from the courier's app, and the ZPL job reaches a real socket on loopback; no printer,
or one that does not answer, is said so, and then nothing is logged."""

from __future__ import annotations

import re
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine

from parcelguard.accounts.service import check_printer_address
from parcelguard.audit.models import AuditEntry
from parcelguard.core.auth import Role
from parcelguard.core.errors import Invalid
from tests.servers import LiveServer, free_port
from tests.support import count_rows
from tests.tenants import Tenant
from tests.waybills.test_label_api import CANARY_DIGITS, CANARY_TEXT, take_in, with_pool


class Printer:
    """A thermal printer's raw port on loopback: keeps every job it is sent."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.socket.getsockname()[1]}"
        self.jobs: list[bytes] = []
        self.done = threading.Event()

    def serve(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            with connection:
                chunks = []
                while chunk := connection.recv(65536):
                    chunks.append(chunk)
            self.jobs.append(b"".join(chunks))
            self.done.set()


@contextmanager
def printer() -> Iterator[Printer]:
    p = Printer()
    thread = threading.Thread(target=p.serve, daemon=True)
    thread.start()
    try:
        yield p
    finally:
        p.socket.close()


def terminal_with_courier(http: httpx.Client, tenant: Tenant) -> tuple[str, dict[str, str], dict[str, str]]:
    manager = tenant.login(http, Role.STATION_MANAGER)
    terminal = http.post("/api/v1/terminals", headers=manager, json={"serial": f"PDA-{uuid.uuid4().hex[:8]}",
                                                                      "label": "handheld"}).json()["id"]
    return terminal, manager, tenant.login(http, Role.COURIER, terminal_id=terminal)


def label_prints(database_url: str, tenant: Tenant) -> int:
    return count_rows(database_url, AuditEntry, AuditEntry.carrier_id == tenant.carrier_id,
                      AuditEntry.purpose == "label_print")


def test_a_courier_prints_a_label_on_the_terminals_printer_through_the_gate(
    server: LiveServer, http: httpx.Client, engine: Engine, database_url: str, tenant: Tenant
) -> None:
    with_pool(engine, tenant)
    terminal, manager, courier = terminal_with_courier(http, tenant)
    shipment = take_in(http, courier)
    path = f"/api/v1/shipments/{shipment['id']}/label:print"
    # No printer named yet: said before any parcel is looked up, and nothing is logged.
    before = label_prints(database_url, tenant)
    refused = http.post(path, headers=courier)
    assert (refused.status_code, refused.json()["code"]) == (409, "printer_not_configured")
    assert label_prints(database_url, tenant) == before
    with printer() as station_printer:
        named = http.put(f"/api/v1/terminals/{terminal}/printer", headers=manager,
                         json={"address": station_printer.address})
        assert (named.status_code, named.json()["printer"]) == (200, station_printer.address)
        printed = http.post(path, headers=courier)
        assert printed.status_code == 202, printed.text
        assert station_printer.done.wait(10)
        job = station_printer.jobs[0]
        assert printed.json() == {"printer": station_printer.address, "bytes": len(job)}
        text = job.decode("utf-8", errors="replace")
        assert text.count("^XA") == 1 and text.rstrip().endswith("^XZ")
        assert str(shipment["waybill_no"]) in text
        assert not [c for c in CANARY_DIGITS if c in re.sub(r"\D", "", text)]
        assert not [c for c in CANARY_TEXT if c in text]
        assert label_prints(database_url, tenant) == before + 1  # the gate logged the print

        # From the courier's app: the result page offers the printer, and a tap sends the job.
        account = tenant.account(Role.COURIER)
        with httpx.Client(base_url=server.url, timeout=30) as app:
            assert app.post("/courier/login", data={"username": account.username, "password": account.password,
                                                    "terminal": terminal}).status_code == 303
            csrf = re.search(r'name="csrf" value="([^"]+)"', app.get("/courier").text).group(1)  # type: ignore[union-attr]
            page = app.post(f"/courier/shipments/{shipment['id']}/print", data={"csrf": csrf})
            assert page.status_code == 200 and 'id="notice"' in page.text
        assert len(station_printer.jobs) == 2
    # A printer that does not answer fails the request whole: no label left, nothing is logged.
    assert http.put(f"/api/v1/terminals/{terminal}/printer", headers=manager,
                    json={"address": f"127.0.0.1:{free_port()}"}).status_code == 200
    before = label_prints(database_url, tenant)
    gone = http.post(path, headers=courier)
    assert (gone.status_code, gone.json()["code"]) == (503, "printer_unreachable")
    assert label_prints(database_url, tenant) == before


def test_a_printer_is_an_address_of_the_stations_own_network(
    http: httpx.Client, tenant: Tenant, other_tenant: Tenant
) -> None:
    terminal, manager, _ = terminal_with_courier(http, tenant)
    path = f"/api/v1/terminals/{terminal}/printer"
    for address, code in [("8.8.8.8:9100", "printer_address_public"), ("printer.example.com", "printer_address_invalid"),
                          ("192.168.1.50:70000", "printer_address_invalid"), ("0.0.0.0", "printer_address_public")]:
        r = http.put(path, headers=manager, json={"address": address})
        assert (r.status_code, r.json()["code"], r.json()["errors"][0]["pointer"]) == (422, code, "/address"), address
    assert http.get(f"/api/v1/terminals/{terminal}", headers=manager).json()["printer"] is None
    assert http.put(path, headers=manager, json={"address": "192.168.1.50"}).json()["printer"] == "192.168.1.50:9100"
    assert http.put(path, headers=manager, json={"address": None}).json()["printer"] is None
    # Another carrier's manager, and a courier, may not name it.
    other = other_tenant.login(http, Role.STATION_MANAGER)
    assert http.put(path, headers=other, json={"address": "10.0.0.9"}).json()["code"] == "terminal_unknown"
    assert http.put(path, headers=tenant.login(http, Role.COURIER),
                    json={"address": "10.0.0.9"}).json()["code"] == "role_not_allowed"


@given(st.text(max_size=60))
def test_any_text_is_a_printer_address_or_refused_with_a_stable_code(text: str) -> None:
    try:
        address = check_printer_address(text)
    except Invalid as exc:
        assert exc.code in {"printer_address_invalid", "printer_address_public"}
    else:
        assert check_printer_address(address) == address  # canonical


@pytest.mark.parametrize("address", ["[fd00::5]:9100", "fe80::1", "10.1.2.3:9101"])
def test_ipv6_and_other_private_addresses_are_taken(address: str) -> None:
    assert check_printer_address(address).endswith(("9100", "9101"))
