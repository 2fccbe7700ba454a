"""The platform as a service of its own: its migrations, its probes, its body limit, and no carrier code."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from parcelguard.core import db
from parcelguard.regulator.platform import partitions
from parcelguard.regulator.platform.migrations import MIGRATIONS_DIR
from parcelguard.regulator.platform.models import PlatformBase
from parcelguard.web.regulator_app import create_regulator_app
from tests.regulator.conftest import platform_settings
from tests.servers import app_in_thread


def test_the_platform_models_and_its_migrations_agree_and_go_down_and_up(fresh_url: str) -> None:
    db.upgrade(fresh_url, script_location=MIGRATIONS_DIR)
    engine = db.make_engine(fresh_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True,
                                                         "include_name": partitions.include_name})
            assert compare_metadata(ctx, PlatformBase.metadata) == []
        assert db.current_revision(engine) == db.head_revision(MIGRATIONS_DIR) != db.head_revision()
        command.downgrade(db.alembic_config(fresh_url, MIGRATIONS_DIR), "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        db.upgrade(fresh_url, script_location=MIGRATIONS_DIR)
        tables = {t for t in inspect(engine).get_table_names() if not partitions.is_partition(t)}
        assert tables == set(PlatformBase.metadata.tables) | {"alembic_version"}
    finally:
        engine.dispose()


def test_readyz_is_503_until_the_platform_migrations_are_applied(fresh_url: str) -> None:
    with app_in_thread(create_regulator_app(platform_settings(fresh_url))) as url:
        assert httpx.get(url + "/healthz").json() == {"status": "ok"}
        pending = httpx.get(url + "/readyz")
        assert pending.status_code == 503 and pending.json()["code"] == "migrations_pending"
        db.upgrade(fresh_url)  # the carrier platform's migrations are not the platform's
        assert httpx.get(url + "/readyz").json()["code"] == "migrations_pending"


def test_readyz_is_200_at_the_platform_head(fresh_url: str) -> None:
    db.upgrade(fresh_url, script_location=MIGRATIONS_DIR)
    with app_in_thread(create_regulator_app(platform_settings(fresh_url))) as url:
        assert httpx.get(url + "/readyz").json() == {"status": "ready", "revision": db.head_revision(MIGRATIONS_DIR)}


def test_readyz_is_503_when_the_database_does_not_answer() -> None:
    settings = platform_settings("postgresql+psycopg://postgres@127.0.0.1:1/nothing?connect_timeout=1")
    with app_in_thread(create_regulator_app(settings)) as url:
        answer = httpx.get(url + "/readyz")
        assert answer.status_code == 503 and answer.json()["code"] == "database_unreachable"


def test_a_body_over_the_limit_is_413(fresh_url: str) -> None:
    db.upgrade(fresh_url, script_location=MIGRATIONS_DIR)
    with app_in_thread(create_regulator_app(platform_settings(fresh_url, max_body_bytes=2048))) as url:
        answer = httpx.post(url + "/api/v1/batches", content=b"{" + b" " * 4096 + b"}",
                            headers={"content-type": "application/json"})
        assert answer.status_code == 413 and answer.json()["code"] == "body_too_large"


def test_the_platform_loads_no_carrier_domain() -> None:
    """Its own service: core, crypto primitives, the wire formats (batches, incident reports) and the document
    parser, nothing else."""
    program = ("import json, sys, parcelguard.web.regulator_app, parcelguard.regulator.platform.service; "
               "print(json.dumps([m for m in sys.modules if m.startswith('parcelguard')]))")
    loaded = json.loads(subprocess.run([sys.executable, "-c", program], check=True, capture_output=True,
                                       text=True).stdout)
    allowed = ("parcelguard", "parcelguard.core", "parcelguard.crypto", "parcelguard.crypto.blind_index",
               "parcelguard.crypto.sealing", "parcelguard.crypto.signing", "parcelguard.crypto.types",
               "parcelguard.crypto.keystore",  # its month keys may live in a key store of their own (issue 15)
               "parcelguard.identity", "parcelguard.identity.documents", "parcelguard.identity.regions",
               "parcelguard.regulator", "parcelguard.regulator.protocol", "parcelguard.regulator.incident_protocol",
               "parcelguard.regulator.jetstream",  # the feed on NATS JetStream: names and the carrier's end
               "parcelguard.web",
               "parcelguard.web.regulator_app", "parcelguard.web.probes",
               # the pages' machinery (templates, messages, the session cookie), no carrier domain in it
               "parcelguard.web.regulator_pages", "parcelguard.web.regulator_keys",
               "parcelguard.web.regulator_incidents", "parcelguard.web.templating",
               "parcelguard.web.i18n",
               "parcelguard.web.session")
    strays = [m for m in loaded if m not in allowed and not m.startswith(("parcelguard.core.",
                                                                          "parcelguard.regulator.platform"))]
    assert strays == []
