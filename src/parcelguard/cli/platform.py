"""Set up and run: init, run, run-all, the schema, the version."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Annotated

import typer
from rich.table import Table

from parcelguard import __version__
from parcelguard.cli.apps import UserError, app, db_app, out
from parcelguard.cli.context import (
    ensure_dev_regulator_keys,
    ensure_dev_root_key,
    load_keyring,
    load_settings,
    open_session,
    prepare_dev_blacklist,
    register_demo_on_blacklist,
    register_demo_on_platform,
    regulator_key_or_none,
    safe_url,
)
from parcelguard.cli.enterprise import (
    DEMO_COMPANY,
    DEMO_EMPLOYEES,
    prepare_dev_enterprise,
    seed_demo_enterprise,
)
from parcelguard.core import db
from parcelguard.core.config import Settings


@app.command()
def init(demo: Annotated[bool, typer.Option(help="Seed the demo carrier and print its logins.")] = False) -> None:
    """Prepare this machine: root key (development), migrations, and the demo data if asked. In development
    also the regulator's platform, the industry blacklist and the enterprise console that `run-all` starts
    beside this one (their keys in var/ and migrations; with --demo, the demo carrier registered on the first
    two and the demo shop's company on the console), unless the operator configured their own
    (PARCELGUARD_REGULATOR_PUBLIC_KEY, PARCELGUARD_BLACKLIST_URL)."""
    settings = load_settings()
    if settings.env == "dev":
        created = ensure_dev_root_key(settings)
        if created:
            out.print(f"created development root key [bold]{created}[/] (mode 0600)")
        regulator = ensure_dev_regulator_keys(settings)
        if regulator:
            out.print(f"created development regulator key pair [bold]{regulator}[/] (private half mode 0600)")
    settings.load_root_key()
    db.upgrade(settings.resolved_database_url)
    out.print(f"database at migration [bold]{db.head_revision()}[/]: {safe_url(settings)}")
    blacklist = prepare_dev_blacklist(settings)
    console = prepare_dev_enterprise(settings.var_dir) if settings.env == "dev" else None
    if demo:
        if settings.env == "prod":
            raise UserError("the demo data is for development only (PARCELGUARD_ENV=prod)")
        from parcelguard.accounts import flows

        with open_session(settings) as session:
            logins = flows.seed_demo(db_session=session, keyring=load_keyring(settings),
                                     regulator_public_key=regulator_key_or_none(settings))
        if settings.env == "dev" and settings.regulator_public_key is None and not settings.regulator_public_key_file:
            register_demo_on_platform(settings)
        if blacklist is not None:
            register_demo_on_blacklist(settings, blacklist)
        if console is not None and seed_demo_enterprise(
                console, carrier_url=f"http://{settings.host}:{settings.port}", shop_username="demo-shop",
                password=flows.DEMO_PASSWORD):
            out.print(f"enterprise console: company [bold]{DEMO_COMPANY}[/] with "
                      + ", ".join(u for u, _, _ in DEMO_EMPLOYEES) + ", connected to the demo carrier")
        table = Table(title=f"demo logins (password for all: {flows.DEMO_PASSWORD})")
        for column in ("username", "role", "where", "status"):
            table.add_column(column)
        for login in logins:
            table.add_row(login.username, str(login.role), login.where, "created" if login.created else "exists")
        out.print(table)


@app.command()
def run(
    host: Annotated[str | None, typer.Option(help="Default PARCELGUARD_HOST or 127.0.0.1.")] = None,
    port: Annotated[int | None, typer.Option(help="Default PARCELGUARD_PORT or 8000.")] = None,
    workers: Annotated[int, typer.Option(min=1, envvar="PARCELGUARD_WORKERS",
                                         help="Worker processes (uvicorn's), each the whole app.")] = 1,
) -> None:
    """Serve the platform (HTTP). With --workers N, uvicorn runs N processes on the one port: every cache and
    background loop of the app stays correct across them (docs/operations.md, "Several worker processes")."""
    import uvicorn

    settings = load_settings()
    settings.load_root_key()
    host, port = host or settings.host, port or settings.port
    print(f"parcelguard {__version__} on http://{host}:{port}/ (API docs: http://{host}:{port}/docs)", flush=True)
    # proxy_headers=False: uvicorn would otherwise believe X-Forwarded-For from 127.0.0.1 and ::1 (its
    # default) and overwrite the client address; PARCELGUARD_TRUSTED_PROXIES decides that in the app.
    uvicorn.run("parcelguard.web.app:create_app", factory=True, host=host, port=port, log_config=None,
                access_log=False, server_header=False, proxy_headers=False,
                **({"workers": workers} if workers > 1 else {}))


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply the migrations up to REVISION."""
    settings = load_settings()
    db.upgrade(settings.resolved_database_url, revision)
    out.print(f"database at migration [bold]{revision}[/]")


@db_app.command("current")
def db_current() -> None:
    """Print the database's migration and the newest one."""
    settings = load_settings()
    engine = db.make_engine(settings.resolved_database_url)
    try:
        out.print(f"current {db.current_revision(engine)}, head {db.head_revision()}")
    finally:
        engine.dispose()


@app.command("run-all")
def run_all() -> None:
    """The whole chain on one machine, for development and the demo (`make run`): the carrier platform,
    the regulator's platform, the uploader, the industry blacklist and (in development) the enterprise console,
    each its own process, as in production. The uploader is pointed at the regulator's platform started here and the carrier platform
    at the blacklist started here, unless PARCELGUARD_REGULATOR_URL or PARCELGUARD_BLACKLIST_URL say
    otherwise (with PARCELGUARD_BLACKLIST_URL set, even empty, no blacklist is started). With
    PARCELGUARD_FEED=jetstream the batches go over NATS JetStream (issue 17): a `nats-server -js` is started
    first, on 127.0.0.1 at the port of PARCELGUARD_NATS_URL with its store in <var dir>/nats, and stopped
    last. Ctrl-C stops all of them; if one stops, the others are stopped too."""
    import signal
    import subprocess
    import time

    from parcelguard.core.config import BlacklistSettings, RegulatorSettings

    regulator = RegulatorSettings()
    carrier = load_settings(production_checked=False)
    nats = _start_nats(carrier) if "jetstream" in (carrier.feed, regulator.feed) else None
    env = dict(os.environ)
    # The uploader feeds the platform started here, unless told otherwise.
    env.setdefault("PARCELGUARD_REGULATOR_URL", f"http://{regulator.host}:{regulator.port}")
    commands = [["regulator", "run"], ["uploader", "run"]]
    # The carrier platform asks the blacklist started here at hiring (under the development industry key
    # `init` made in var/), unless it is pointed at another one or turned off.
    if "PARCELGUARD_BLACKLIST_URL" not in env:
        blacklist = BlacklistSettings()
        env["PARCELGUARD_BLACKLIST_URL"] = f"http://{blacklist.host}:{blacklist.port}"
        commands.append(["blacklist", "run"])
    if env.get("PARCELGUARD_ENV", "dev") == "dev":  # the enterprise console, in development and the demo
        commands.append(["enterprise", "run"])
    me = [sys.executable, "-m", "parcelguard"]
    processes = [subprocess.Popen([*me, *args], env=env) for args in [*commands, ["run"]]]
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    code = 0
    while not stopping:
        ended = [p for p in [*processes, *([nats] if nats else [])] if p.poll() is not None]
        if ended:
            code = ended[0].returncode or 1
            break
        time.sleep(0.2)
    for p in processes:
        if p.poll() is None:
            p.terminate()
    for p in processes:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
    if nats is not None:  # last: the platform and the uploader close their connections first
        nats.terminate()
        try:
            nats.wait(timeout=15)
        except subprocess.TimeoutExpired:
            nats.kill()
    raise typer.Exit(0 if stopping else code)


def _start_nats(settings: Settings) -> subprocess.Popen[bytes]:
    """`nats-server -js` for the feed on JetStream, on loopback at the port of `nats_url`, its store in var/."""
    import shutil
    from urllib.parse import urlsplit

    from parcelguard.regulator.jetstream import MAX_PAYLOAD_BYTES

    server = shutil.which("nats-server") or "/usr/sbin/nats-server"
    if not os.path.exists(server):
        raise UserError("PARCELGUARD_FEED=jetstream needs nats-server (Debian: apt-get install nats-server)")
    store = settings.var_dir / "nats"
    store.mkdir(parents=True, exist_ok=True)
    config = settings.var_dir / "nats.conf"
    config.write_text(f"max_payload: {MAX_PAYLOAD_BYTES}\n")  # a batch of 1,000 sealed records is ~1 MiB
    port = urlsplit(settings.nats_url).port or 4222
    return subprocess.Popen([server, "-c", str(config), "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(store)])



@app.command()
def version() -> None:
    """Print the version."""
    print(f"parcelguard {__version__}")
