"""Test databases: each run makes its own (a SQLite file, or a PostgreSQL database with a unique
name), builds the schema with the Alembic migrations, and drops it afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from parcelguard.core import db

PG_ADMIN_URL = os.environ.get("PARCELGUARD_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ENGINES = ("sqlite", "postgresql")
IN_CI = os.environ.get("CI", "").lower() == "true"


def postgres_reachable() -> bool:
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001  (any failure to connect means: not reachable)
        return False


def require_engine(kind: str) -> None:
    """Skip a PostgreSQL test when no server answers, except in CI, where that is a failure."""
    if kind == "postgresql" and not postgres_reachable():
        message = f"PostgreSQL is not reachable at {make_url(PG_ADMIN_URL).render_as_string(hide_password=True)}"
        if IN_CI:
            pytest.fail(message + " (CI=true: the PostgreSQL leg is mandatory)", pytrace=False)
        pytest.skip(message)


@contextmanager
def empty_database(kind: str, directory: Path) -> Iterator[str]:
    """A new, empty database of `kind`; dropped on exit."""
    name = f"pg_test_{uuid.uuid4().hex[:12]}"
    if kind == "sqlite":
        yield f"sqlite:///{directory / (name + '.db')}"
        return
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def migrated_database(kind: str, directory: Path) -> Iterator[str]:
    """A new database of `kind` with the schema built by the migrations (never by create_all)."""
    with empty_database(kind, directory) as url:
        db.upgrade(url)
        yield url


def parcelguard(*args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """The `parcelguard` command as an operator runs it: a real process, its exit code and output."""
    return subprocess.run([sys.executable, "-m", "parcelguard", *args], check=False, env=env, input=stdin,
                          capture_output=True, text=True, timeout=120)


def count_rows(url: str, model: type, *where: object) -> int:
    """Rows of `model` (matching `where`) in the database at `url`, through a connection of its own."""
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(model).where(*where)) or 0)
    finally:
        engine.dispose()


# The OpenAPI fuzzer (tests/web/test_openapi.py, tests/regulator/test_platform_openapi.py).
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
FUZZ_CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
# Fixed, so a failure found in CI is found again on a laptop; a new route still gets fuzzed from its first run.
FUZZ_SEED = "20261205"


def fuzz_openapi(base_url: str, headers: dict[str, str], *, exclude: tuple[str, ...] = ()) -> None:
    """Run the schemathesis CLI, an outside OpenAPI conformance fuzzer, against a live server; fail with
    its report on any server error, undocumented status or content type, or body off its schema."""
    command = [str(SCHEMATHESIS), "run", f"{base_url}/openapi.json", "--checks", FUZZ_CHECKS, "--seed", FUZZ_SEED,
               "--max-examples", "8", "--workers", "1", "--phases", "examples,coverage,fuzzing",
               "--request-timeout", "30", "--no-color"]
    for name, value in headers.items():
        command += ["--header", f"{name}: {value}"]
    for path in exclude:
        command += ["--exclude-path", path]
    with tempfile.TemporaryDirectory() as scratch:  # its cache and reports go there, not into the checkout
        done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=600, cwd=scratch)
    report = done.stdout[-12000:] + done.stderr[-2000:]
    assert done.returncode == 0, report
    assert "Tested:" in done.stdout, report


@contextmanager
def demo_chain(var_dir: Path, *, blacklist_port: int | None = None, enterprise_port: int | None = None,
               extra_env: dict[str, str] | None = None) -> Iterator[tuple[str, str]]:
    """`parcelguard init --demo` then `run-all` as `make run` does, in `var_dir`: the carrier platform, the
    uploader, the regulator's platform, the industry blacklist (on `blacklist_port`, by default a free one) and
    the enterprise console (on `enterprise_port`, likewise); yields (carrier platform URL, regulator platform
    URL) and stops them with SIGINT, as Ctrl-C would (they must exit cleanly). `extra_env`: settings for
    `run-all` (the feed on JetStream, say)."""
    from tests.servers import free_port, wait_until_up

    port, regulator_port, blacklist_port = free_port(), free_port(), blacklist_port or free_port()
    enterprise_port = enterprise_port or free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARCELGUARD_")}
    env.update(PARCELGUARD_VAR_DIR=str(var_dir), PARCELGUARD_PORT=str(port),
               PARCELGUARD_REGULATOR_PORT=str(regulator_port), PARCELGUARD_BLACKLIST_PORT=str(blacklist_port),
               PARCELGUARD_ENTERPRISE_PORT=str(enterprise_port))
    command = [sys.executable, "-m", "parcelguard"]
    init = subprocess.run([*command, "init", "--demo"], env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert init.returncode == 0, init.stderr
    assert "knows carrier demo" in init.stdout and "carrier demo registered" in init.stdout
    process = subprocess.Popen([*command, "run-all"], env={**env, **(extra_env or {})}, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    url, regulator = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{regulator_port}"
    try:
        wait_until_up(url, process=process)
        wait_until_up(regulator, process=process)
        wait_until_up(f"http://127.0.0.1:{blacklist_port}", process=process)
        wait_until_up(f"http://127.0.0.1:{enterprise_port}", process=process)
        yield url, regulator
    finally:
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(timeout=30) == 0

