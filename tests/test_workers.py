"""`parcelguard run --workers 2` (issue 17): both processes serve, a revocation holds in both at once, and a
background pass runs in one process at a time."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from sqlalchemy import Engine, select

from parcelguard.audit import service as audit_service
from parcelguard.audit.models import TreeHead
from parcelguard.core import db, passes
from parcelguard.core.auth import Role
from parcelguard.crypto.keyring import Keyring
from tests.conftest import TEST_ROOT_KEY
from tests.servers import LiveServer, platform_process
from tests.tenants import Tenant

REQUESTS = 50


@pytest.fixture(scope="module")
def workers(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    log_path = tmp_path_factory.mktemp("workers") / "server.log"
    with platform_process(database_url=database_url, root_key=TEST_ROOT_KEY, log_path=log_path,
                          args=("--workers", "2"), PARCELGUARD_AUDIT_HEAD_SECONDS=str(7 * 24 * 3600)) as live:
        yield live


def _serving_pid(server: LiveServer) -> int:
    """The PID of the worker that answers a request on a new connection: the process whose descriptors hold
    the server's end of that connection (Linux: /proc)."""
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 200")
        mine = s.getsockname()[1]
        inode = next(fields[9] for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
                     if (fields := line.split()) and int(fields[1].split(":")[1], 16) == port
                     and int(fields[2].split(":")[1], 16) == mine)
        target = f"socket:[{inode}]"
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if any(os.readlink(f"/proc/{pid}/fd/{fd}") == target for fd in os.listdir(f"/proc/{pid}/fd")):
                    return int(pid)
            except OSError:  # a process that ended meanwhile, or not ours
                continue
    raise AssertionError("no process holds the connection")


def _answers(server: LiveServer, headers: dict[str, str], n: int = REQUESTS) -> list[int]:
    """Status codes of `n` requests to /me, each on a new connection (so they spread over the workers)."""
    return [httpx.get(server.url + "/api/v1/me", headers=headers, timeout=10).status_code for _ in range(n)]


def test_both_workers_answer_requests(workers: LiveServer) -> None:
    pids = {_serving_pid(workers) for _ in range(40)}
    assert len(pids) == 2


def test_a_token_signed_out_is_refused_by_every_worker_at_once(workers: LiveServer, tenant: Tenant) -> None:
    with httpx.Client(base_url=workers.url, timeout=10) as http:
        courier = tenant.login(http, Role.COURIER)
    assert set(_answers(workers, courier, 20)) == {200}  # now cached in both workers
    r = httpx.post(workers.url + "/api/v1/auth/logout", headers=courier, timeout=10)
    assert r.status_code == 204
    assert _answers(workers, courier) == [401] * REQUESTS


def test_a_retired_courier_is_refused_by_every_worker_at_once(workers: LiveServer, tenant: Tenant) -> None:
    with httpx.Client(base_url=workers.url, timeout=10) as http:
        courier = tenant.login(http, Role.COURIER)
        manager = tenant.login(http, Role.STATION_MANAGER)
    assert set(_answers(workers, courier, 20)) == {200}
    user_id = tenant.account(Role.COURIER).user_id
    r = httpx.post(f"{workers.url}/api/v1/users/{user_id}/retire", headers=manager, timeout=10)
    assert r.status_code == 200, r.text
    assert _answers(workers, courier) == [401] * REQUESTS


def test_a_colleague_signing_out_costs_others_nothing_but_a_lookup(workers: LiveServer, tenant: Tenant) -> None:
    with httpx.Client(base_url=workers.url, timeout=10) as http:
        one, other = tenant.login(http, Role.COURIER), tenant.login(http, Role.COURIER, n=1)
    assert httpx.post(workers.url + "/api/v1/auth/logout", headers=one, timeout=10).status_code == 204
    assert set(_answers(workers, other, 20)) == {200}


def _at_once(work: object, threads: int = 2) -> None:
    barrier = threading.Barrier(threads)
    failures: list[BaseException] = []

    def run() -> None:
        barrier.wait()
        try:
            work()  # type: ignore[operator]
        except BaseException as exc:  # noqa: BLE001  (reported below, in the test's thread)
            failures.append(exc)

    started = [threading.Thread(target=run) for _ in range(threads)]
    for t in started:
        t.start()
    for t in started:
        t.join()
    assert not failures, failures


def test_two_processes_never_run_one_pass_at_once(engine: Engine, unique: str) -> None:
    ran, inside = [], threading.Lock()

    def pass_() -> None:
        assert inside.acquire(blocking=False), "two passes at once"
        try:
            ran.append(1)
            time.sleep(0.3)
        finally:
            inside.release()

    _at_once(lambda: passes.run_alone(engine, f"test-{unique}", pass_), threads=4)
    assert ran == [1]
    assert passes.run_alone(engine, f"test-{unique}", lambda: "free again") == "free again"


def test_tree_heads_signed_by_two_workers_at_once_are_signed_once(engine: Engine, keyring: Keyring,
                                                                  tenant: Tenant) -> None:
    from parcelguard.web.app import _sign_due_heads  # the server's own pass, as each worker's timer runs it

    admin = tenant.actor(Role.ADMIN)  # made first: it writes on a connection of its own
    sessions = db.make_sessionmaker(engine)
    with sessions() as s, s.begin():
        db.begin_write(s)
        audit_service.log_admin_change(db_session=s, keyring=keyring, actor=admin,
                                       subject="settings:test", purpose="test", request_id=None)
    state = SimpleNamespace(sessionmaker=sessions, keyring=keyring)
    _at_once(lambda: passes.run_alone(engine, "sign-heads", lambda: _sign_due_heads(state)), threads=4)
    with sessions() as s:
        sizes = s.scalars(select(TreeHead.tree_size).where(TreeHead.carrier_id == tenant.carrier_id)).all()
    assert sizes == [1]
