"""The regulator's real-name platform: its database, keys, officials, carriers and lookup log."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from parcelguard import __version__
from parcelguard.cli.apps import (
    UserError,
    regulator_app,
    regulator_carriers_app,
    regulator_lookups_app,
    regulator_retention_app,
    regulator_users_app,
)
from parcelguard.cli.context import (
    ensure_dev_regulator_keys,
    load_regulator_settings,
    migrate_regulator,
    open_regulator_session,
)
from parcelguard.core.config import Settings, encode_root_key


@regulator_app.command("init")
def regulator_init() -> None:
    """Prepare the regulator's platform: its development keys (as `parcelguard init` makes them) and its
    database's migrations. Prints the key carriers seal to and the receipt key id."""
    from parcelguard.regulator.platform.keys import PlatformKeys

    settings = load_regulator_settings()
    if settings.env == "dev" and settings.private_key is None and settings.private_key_file is None:
        created = ensure_dev_regulator_keys(Settings(var_dir=settings.var_dir))
        if created:
            print(f"created development regulator keys in {settings.var_dir} (private halves mode 0600)")
    keys = PlatformKeys.from_settings(settings)
    revision = migrate_regulator(settings)
    from sqlalchemy.engine import make_url

    url = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
    print(f"platform database at migration {revision}: {url}")
    print(f"carriers seal to (X25519, PARCELGUARD_REGULATOR_PUBLIC_KEY): {encode_root_key(keys.sealing_public_key)}")
    print(f"receipts are signed with key {keys.receipt_key_id} "
          f"(PARCELGUARD_REGULATOR_RECEIPT_KEY): {encode_root_key(keys.receipt_public_key)}")


@regulator_app.command("run")
def regulator_run(
    host: Annotated[str | None, typer.Option(help="Default PARCELGUARD_REGULATOR_HOST or 127.0.0.1.")] = None,
    port: Annotated[int | None, typer.Option(help="Default PARCELGUARD_REGULATOR_PORT or 8001.")] = None,
) -> None:
    """Serve the regulator's platform (HTTP), after bringing its database to the newest migration."""
    import uvicorn

    from parcelguard.regulator.platform.keys import PlatformKeys

    settings = load_regulator_settings()
    PlatformKeys.from_settings(settings)  # a missing key is one line here, not a traceback in the server
    migrate_regulator(settings)
    host, port = host or settings.host, port or settings.port
    print(f"parcelguard regulator platform {__version__} on http://{host}:{port}/", flush=True)
    uvicorn.run("parcelguard.web.regulator_app:create_regulator_app", factory=True, host=host, port=port,
                log_config=None, access_log=False, server_header=False, proxy_headers=False)


@regulator_carriers_app.command("add")
def regulator_carriers_add(
    file: Annotated[str, typer.Argument(help="The carrier's registration, JSON as `parcelguard uploader "
                                             "registration` prints it; - reads standard input.")],
) -> None:
    """Register a carrier and its batch-signing key (or add a key to a registered carrier)."""
    import base64
    import binascii
    import uuid

    from parcelguard.crypto import signing
    from parcelguard.regulator.platform import service

    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {file}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        entry = json.loads(text)
    except ValueError:
        raise UserError(f"{file}: not JSON") from None
    fields = ("code", "carrier_id", "name", "key_id", "public_key")
    if not isinstance(entry, dict) or any(not isinstance(entry.get(f), str) for f in fields):
        raise UserError(f"{file}: a registration is a JSON object with the strings {', '.join(fields)}")
    try:
        carrier_uuid = uuid.UUID(entry["carrier_id"])
    except ValueError:
        raise UserError(f"{file}: carrier_id is not a UUID") from None
    try:
        public_key = base64.b64decode(entry["public_key"], validate=True)
    except (binascii.Error, ValueError):
        raise UserError(f"{file}: public_key is not standard base64") from None
    if len(public_key) != 32:
        raise UserError(f"{file}: public_key is not an Ed25519 public key (32 bytes)")
    if signing.key_id(public_key) != entry["key_id"]:
        raise UserError(f"{file}: key_id does not match public_key (it is {signing.key_id(public_key)})")
    settings = load_regulator_settings()
    with open_regulator_session(settings) as session:
        done = service.register_carrier(db_session=session, code=entry["code"], carrier_uuid=carrier_uuid,
                                        name=entry["name"], public_key=public_key)
    what = "registered" if done.carrier_created else "already registered"
    key = "added" if done.key_added else "already registered"
    print(f"carrier {done.code} ({done.carrier_id}) {what}; key {done.key_id} {key}")


@regulator_carriers_app.command("revoke-key")
def regulator_carriers_revoke_key(
    code: Annotated[str, typer.Option("--carrier", help="The carrier's code.")],
    key_id: Annotated[str, typer.Argument(help="The key's id (16 hex digits).")],
    reason: Annotated[str | None, typer.Option(help="Why (2-200 characters), kept with the revocation; "
                                                    "the officials' console shows it.")] = None,
) -> None:
    """Revoke a carrier's batch-signing key: batches it signs are refused from now on. The revocation names
    no official (the console shows: by the operator at the command line)."""
    from parcelguard.regulator.platform import service

    with open_regulator_session(load_regulator_settings()) as session:
        revoked = service.revoke_key(db_session=session, code=code, key_id=key_id, reason=reason)
    print(f"carrier {code}: key {key_id} {'revoked' if revoked else 'was revoked already'}")


@regulator_users_app.command("add")
def regulator_users_add(
    username: Annotated[str, typer.Argument(help="Sign-in name, lowercase.")],
    display_name: Annotated[str, typer.Option(help="The official's name as the platform shows it.")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
) -> None:
    """Add an official (role regulator). The password comes from stdin or a prompt, never from an argument."""
    from parcelguard.regulator.platform import officials

    settings = load_regulator_settings()
    if password_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    with open_regulator_session(settings) as session:
        official = officials.add_official(db_session=session, username=username, display_name=display_name,
                                          password=password)
    print(f"official {official.username} (regulator) {official.id}")


@regulator_users_app.command("disable")
def regulator_users_disable(username: Annotated[str, typer.Argument(help="The official's sign-in name.")]) -> None:
    """Disable an official: their tokens stop working at once and they cannot sign in."""
    from parcelguard.regulator.platform import officials

    with open_regulator_session(load_regulator_settings()) as session:
        officials.disable_official(db_session=session, username=username)
    print(f"official {username} disabled")


@regulator_lookups_app.command("verify")
def regulator_lookups_verify() -> None:
    """Check the lookup log: every entry chains to the one before and the signed head names the last.
    Prints `ok: ...` or `DAMAGED: ...` (exit code 1)."""
    from parcelguard.regulator.platform import lookup_log
    from parcelguard.regulator.platform.keys import PlatformKeys

    settings = load_regulator_settings()
    keys = PlatformKeys.from_settings(settings)
    with open_regulator_session(settings) as session:
        report = lookup_log.verify(db_session=session, keys=keys)
    print(report.line())
    if not report.ok:
        raise typer.Exit(1)


@regulator_retention_app.command("plan")
def regulator_retention_plan() -> None:
    """Every month the platform holds records for and the day it goes (PARCELGUARD_REGULATOR_RETENTION_MONTHS)."""
    from parcelguard.regulator.platform import retention

    settings = load_regulator_settings()
    with open_regulator_session(settings) as session:
        for month in retention.plan(db_session=session, months=settings.retention_months):
            print(f"{month.period}: goes on {month.expires_at:%Y-%m-%d} ({month.live_keys} live record key(s))")
    print("month keys kept in " + ("a key store of its own" if settings.keystore_url else "the platform database "
                                   "(destroying a month does not reach backups: set PARCELGUARD_REGULATOR_KEYSTORE_URL)"))


@regulator_retention_app.command("run")
def regulator_retention_run() -> None:
    """Destroy every month past its retention now: its record keys, its rows, a signed destruction record. On
    PostgreSQL it first makes the monthly partitions ahead, as the server does daily."""
    from parcelguard.core import db
    from parcelguard.regulator.platform import partitions, retention
    from parcelguard.regulator.platform.keys import PlatformKeys

    settings = load_regulator_settings()
    engine = db.make_engine(settings.resolved_database_url)
    try:
        for name in partitions.ensure_partitions(engine):
            print(f"made partition {name}")
        done = retention.run(sessionmaker=db.make_sessionmaker(engine), keys=PlatformKeys.from_settings(settings),
                             months=settings.retention_months)
    finally:
        engine.dispose()
    for wire in done:
        body = wire["record"]
        print(f"destroyed {body['period']}: {body['records_deleted']} record(s), "  # type: ignore[index]
              f"{len(body['record_key_ids'])} key(s); record {body['record_id']}")  # type: ignore[index]
    if not done:
        print("nothing is past its retention")


@regulator_retention_app.command("records")
def regulator_retention_records() -> None:
    """The platform's signed destruction records as JSON lines (verify with its receipt key)."""
    from parcelguard.regulator.platform import retention

    with open_regulator_session(load_regulator_settings()) as session:
        for wire in retention.records(db_session=session):
            print(json.dumps(wire, sort_keys=True))
