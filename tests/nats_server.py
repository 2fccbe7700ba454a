"""A real `nats-server -js` for the tests of the feed on JetStream: a free loopback port, a store under the
test's tmp directory, and stop (SIGTERM) / start again on the same port and store.

(Beside tests/servers.py rather than in tests/support/: tests/support.py is a module, and a package of that
name would hide it.)"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from parcelguard.regulator.jetstream import MAX_PAYLOAD_BYTES
from tests.servers import free_port

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"


class NatsServer:
    def __init__(self, store: Path) -> None:
        if not Path(NATS_SERVER).exists():
            pytest.skip("nats-server is not installed (Debian: apt-get install nats-server); the JetStream feed "
                        "tests need it")
        self.port = free_port()
        self.store = store
        self.url = f"nats://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None
        self._config = store.parent / f"{store.name}.conf"
        self._config.write_text(f"max_payload: {MAX_PAYLOAD_BYTES}\n")  # a batch of 1,000 records is ~1 MiB

    def start(self) -> None:
        assert self._process is None or self._process.poll() is not None, "already running"
        self._process = subprocess.Popen(
            [NATS_SERVER, "-c", str(self._config), "-js", "-a", "127.0.0.1", "-p", str(self.port),
             "-sd", str(self.store)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            assert self._process.poll() is None, f"nats-server exited with code {self._process.returncode}"
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    if s.recv(4).startswith(b"INFO"):
                        return
            except OSError:
                pass
            assert time.monotonic() < deadline, "nats-server did not come up in 30 s"
            time.sleep(0.05)

    @property
    def pid(self) -> int | None:
        """The running server's process id (bench/feed_jetstream.py reads its CPU time)."""
        return self._process.pid if self._process is not None and self._process.poll() is None else None

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=5)


@contextmanager
def nats_server(directory: Path) -> Iterator[NatsServer]:
    directory.mkdir(parents=True, exist_ok=True)
    server = NatsServer(directory / "store")
    server.start()
    try:
        yield server
    finally:
        server.stop()
