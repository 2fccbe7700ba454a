"""The enterprise console's operator commands: its database and key (`init`), its server (`run`), companies and
their employees (the first admin of a company; the admin adds the rest)."""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from parcelguard import __version__
from parcelguard.cli.apps import UserError, enterprise_app
from parcelguard.cli.context import write_private
from parcelguard.core import db
from parcelguard.core.config import ConfigError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from parcelguard.enterprise.platform.settings import EnterpriseSettings


def load_enterprise_settings() -> EnterpriseSettings:
    from parcelguard.enterprise.platform.settings import EnterpriseSettings

    settings = EnterpriseSettings()
    problems = settings.production_problems()
    if problems:
        raise ConfigError(problems[0])
    return settings


def ensure_dev_enterprise_key(settings: EnterpriseSettings) -> bool:
    """Development: the console's root key in var/ (mode 0600) when none is set and the file is missing."""
    path = settings.dev_root_key_file
    if settings.env != "dev" or settings.root_key is not None or settings.root_key_file is not None or path.exists():
        return False
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_private(path, "# parcelguard development enterprise root key: never use in production", os.urandom(32))
    return True


def migrate_enterprise(settings: EnterpriseSettings) -> str | None:
    from alembic.util import CommandError

    from parcelguard.enterprise.platform.migrations import MIGRATIONS_DIR

    try:
        db.upgrade(settings.resolved_database_url, script_location=MIGRATIONS_DIR)
    except CommandError as exc:
        raise UserError(f"cannot migrate the enterprise console's database ({exc}): is it another platform's "
                        "database? Set PARCELGUARD_ENTERPRISE_DATABASE_URL") from None
    return db.head_revision(MIGRATIONS_DIR)


@contextmanager
def open_enterprise_session(settings: EnterpriseSettings) -> Iterator[Session]:
    from parcelguard.enterprise.platform.migrations import MIGRATIONS_DIR

    engine = db.make_engine(settings.resolved_database_url)
    try:
        if db.current_revision(engine) != db.head_revision(MIGRATIONS_DIR):
            raise UserError("the enterprise console's database is not at its newest migration: run "
                            "`parcelguard enterprise init`")
        with db.make_sessionmaker(engine)() as session, session.begin():
            db.begin_write(session)
            yield session
    finally:
        engine.dispose()


@enterprise_app.command("init")
def enterprise_init() -> None:
    """Prepare the console: in development its root key (var/, mode 0600), then its database's migrations."""
    from parcelguard.enterprise.platform.keys import EnterpriseKeys

    settings = load_enterprise_settings()
    if ensure_dev_enterprise_key(settings):
        print(f"created the development enterprise root key in {settings.dev_root_key_file} (mode 0600)")
    EnterpriseKeys.from_settings(settings)
    revision = migrate_enterprise(settings)
    from sqlalchemy.engine import make_url

    url = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
    print(f"enterprise console database at migration {revision}: {url}")


@enterprise_app.command("run")
def enterprise_run(
    host: Annotated[str | None, typer.Option(help="Default PARCELGUARD_ENTERPRISE_HOST or 127.0.0.1.")] = None,
    port: Annotated[int | None, typer.Option(help="Default PARCELGUARD_ENTERPRISE_PORT or 8003.")] = None,
) -> None:
    """Serve the console (HTTP), after bringing its database to the newest migration."""
    import uvicorn

    from parcelguard.enterprise.platform.keys import EnterpriseKeys

    settings = load_enterprise_settings()
    ensure_dev_enterprise_key(settings)
    EnterpriseKeys.from_settings(settings)  # a missing key is one line here, not a traceback in the server
    migrate_enterprise(settings)
    host, port = host or settings.host, port or settings.port
    print(f"parcelguard enterprise console {__version__} on http://{host}:{port}/", flush=True)
    uvicorn.run("parcelguard.web.enterprise_app:create_enterprise_app", factory=True, host=host, port=port,
                log_config=None, access_log=False, server_header=False, proxy_headers=False)


@enterprise_app.command("add-company")
def enterprise_add_company(
    code: Annotated[str, typer.Option(help="The company's short code (lowercase letters, digits, dashes).")],
    name: Annotated[str, typer.Option(help="The company's name.")],
    admin: Annotated[str, typer.Option(help="The username of its first admin.")],
    display_name: Annotated[str | None, typer.Option(help="The admin's display name (default: the username).")]
    = None,
) -> None:
    """A company and its first admin; the password is read from PARCELGUARD_ENTERPRISE_PASSWORD or asked for."""
    from parcelguard.enterprise.platform import employees

    password = os.environ.get("PARCELGUARD_ENTERPRISE_PASSWORD") or getpass.getpass("the admin's password: ")
    settings = load_enterprise_settings()
    with open_enterprise_session(settings) as session:
        company = employees.add_company(db_session=session, code=code, name=name)
        employees.add_employee(db_session=session, company_id=company.id, username=admin,
                               display_name=display_name or admin, password=password, role="admin")
    print(f"company {code} added with its admin {admin}")


@enterprise_app.command("add-employee")
def enterprise_add_employee(
    company: Annotated[str, typer.Option(help="The company's code.")],
    username: Annotated[str, typer.Option(help="The employee's username.")],
    role: Annotated[str, typer.Option(help="admin or shipper.")] = "shipper",
    display_name: Annotated[str | None, typer.Option(help="Display name (default: the username).")] = None,
) -> None:
    """An employee of a company; the password is read from PARCELGUARD_ENTERPRISE_PASSWORD or asked for."""
    from parcelguard.enterprise.platform import employees

    password = os.environ.get("PARCELGUARD_ENTERPRISE_PASSWORD") or getpass.getpass("the employee's password: ")
    settings = load_enterprise_settings()
    with open_enterprise_session(settings) as session:
        found = employees.company_by_code(db_session=session, code=company)
        employees.add_employee(db_session=session, company_id=found.id, username=username,
                               display_name=display_name or username, password=password, role=role)
    print(f"employee {username} ({role}) added to {company}")


# -- the demo (`parcelguard init --demo`, `make run`) ----------------------------------------------------------

DEMO_COMPANY = "demo-shop"
DEMO_EMPLOYEES = (("shop-admin", "admin", "店铺管理员"), ("shop-clerk", "shipper", "发货员"))
_REMOTE = ("新疆", "西藏", "青海", "内蒙古")


def prepare_dev_enterprise(var_dir: Path) -> EnterpriseSettings | None:
    """Development: the enterprise console `run-all` starts beside the carrier platform, prepared as
    `parcelguard enterprise init` prepares it (its development root key in var/, its migrations)."""
    from parcelguard.enterprise.platform.settings import EnterpriseSettings

    settings = EnterpriseSettings(var_dir=var_dir)
    if settings.env != "dev":
        return None
    ensure_dev_enterprise_key(settings)
    migrate_enterprise(settings)
    return settings


def demo_rate_table() -> bytes:
    """The demo carrier's table for the demo company: every province to every province, dearer and slower the
    farther, remote regions dearer still (a CSV in the format of docs/enterprise-rates.md)."""
    from parcelguard.enterprise.rates.regions import provinces, short_name

    header = ("origin_province,destination_province,first_weight_kg,first_price_yuan,step_kg,step_price_yuan,"
              "max_weight_kg,transit_days_min,transit_days_max")
    lines = [header]
    for origin in provinces():
        for destination in provinces():
            remote = short_name(destination) in _REMOTE or short_name(origin) in _REMOTE
            same = origin == destination
            price, step, days = (8, 1, (1, 1)) if same else (18, 8, (3, 5)) if remote else (12, 2, (2, 3))
            lines.append(f"{origin},{destination},1,{price},1,{step},50,{days[0]},{days[1]}")
    return ("\n".join(lines) + "\n").encode()


def seed_demo_enterprise(settings: EnterpriseSettings, *, carrier_url: str, shop_username: str,
                         password: str) -> bool:
    """The demo company on the console: its admin and a shipper (the demo password), a connection to the demo
    carrier as its contract customer there, and that carrier's table. Answers whether it was made now."""
    from datetime import date

    from parcelguard.enterprise.platform import connections, employees, rate_tables
    from parcelguard.enterprise.platform.keys import EnterpriseKeys
    from parcelguard.enterprise.platform.models import Company

    keys = EnterpriseKeys.from_settings(settings)
    with open_enterprise_session(settings) as session:
        from sqlalchemy import select

        if session.scalar(select(Company.id).where(Company.code == DEMO_COMPANY)) is not None:
            return False
        company = employees.add_company(db_session=session, code=DEMO_COMPANY, name="演示网店 Demo Shop")
        staff = [employees.add_employee(db_session=session, company_id=company.id, username=username,
                                        display_name=name, password=password, role=role)
                 for username, role, name in DEMO_EMPLOYEES]
        connection = connections.add(db_session=session, keys=keys, company_id=company.id, code="DEMO",
                                     name="演示快递 Demo Express", adapter="parcelguard", base_url=carrier_url,
                                     credentials=connections.Credentials(shop_username, password))
        rate_tables.import_file(db_session=session, company_id=company.id, connection_id=connection.id,
                                data=demo_rate_table(), file_name="demo.csv", version="演示协议价 demo",
                                effective_from=date(2026, 1, 1), surcharges=None, imported_by=staff[0].id)
    return True
