"""Real servers for tests: the platform in its own process (as `parcelguard run` starts it), or an
app object under uvicorn in a thread when a test needs to add a route. Both listen on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from parcelguard.core.config import encode_root_key


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, *, timeout: float = 30.0, process: subprocess.Popen[Any] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with code {process.returncode}")
        try:
            if httpx.get(url + "/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not come up in {timeout} s")


@dataclass
class LiveServer:
    url: str
    log_path: Path

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, needle: str, timeout: float = 5.0) -> str:
        """The log once `needle` is in it (a request's line is written just after its response)."""
        deadline = time.monotonic() + timeout
        text = self.log_text()
        while needle not in text and time.monotonic() < deadline:
            time.sleep(0.05)
            text = self.log_text()
        return text


# The regulator's key pair in tests: servers seal to the public half; tests open with the private one.
TEST_REGULATOR_PRIVATE = bytes(range(32, 64))
TEST_REGULATOR_PUBLIC = X25519PrivateKey.from_private_bytes(TEST_REGULATOR_PRIVATE).public_key().public_bytes_raw()


def server_env(*, database_url: str, root_key: bytes, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARCELGUARD_") or k.startswith("PARCELGUARD_TEST_")}
    env.update(PARCELGUARD_DATABASE_URL=database_url, PARCELGUARD_ROOT_KEY=encode_root_key(root_key),
               PARCELGUARD_REGULATOR_PUBLIC_KEY=encode_root_key(TEST_REGULATOR_PUBLIC),
               PARCELGUARD_LOG_LEVEL="info", **extra)
    return env


@contextmanager
def platform_process(*, database_url: str, root_key: bytes, log_path: Path, args: tuple[str, ...] = (),
                     **extra: str) -> Iterator[LiveServer]:
    """`parcelguard run [args]` in a subprocess on a free loopback port; its stdout and stderr go to `log_path`."""
    port = free_port()
    env = server_env(database_url=database_url, root_key=root_key, PARCELGUARD_PORT=str(port), **extra)
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "parcelguard", "run", *args], env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(url, process=proc)
            yield LiveServer(url=url, log_path=log_path)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def app_in_thread(app: Any, port: int | None = None) -> Iterator[str]:
    """Serve an ASGI app object with uvicorn on a loopback port (a free one unless given) in a thread;
    yields its base URL."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False,
                                           lifespan="on", proxy_headers=False))  # as `parcelguard run`
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
