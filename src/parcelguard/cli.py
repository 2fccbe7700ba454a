"""The `parcelguard` command: set up, run and operate the platform."""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from parcelguard import __version__
from parcelguard.core import db
from parcelguard.core.auth import Role
from parcelguard.core.config import DEV_KEY_MARKER, ConfigError, Settings, encode_root_key, get_settings
from parcelguard.core.errors import DomainError

if TYPE_CHECKING:
    from parcelguard.core.config import RegulatorSettings
    from parcelguard.verify import LogReport

app = typer.Typer(help="parcelguard: real-name parcel intake and privacy waybills.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="Accounts.", no_args_is_help=True)
keys_app = typer.Typer(help="Keys: rotation, re-wrapping, a new root key.", no_args_is_help=True)
carriers_app = typer.Typer(help="Carriers and their stations.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit log: export it, verify it.", no_args_is_help=True)
waybill_app = typer.Typer(help="Waybill numbers: check one.", no_args_is_help=True)
id_app = typer.Typer(help="Identity documents and organisation codes: check one.", no_args_is_help=True)
uploader_app = typer.Typer(help="The uploader: sealed real-name records to the regulator.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")
app.add_typer(carriers_app, name="carriers")
app.add_typer(audit_app, name="audit")
app.add_typer(waybill_app, name="waybill")
app.add_typer(id_app, name="id")
regulator_app = typer.Typer(help="The regulator's real-name platform: its own database, keys and server.",
                            no_args_is_help=True)
regulator_carriers_app = typer.Typer(help="Carriers registered on the regulator's platform.", no_args_is_help=True)
regulator_app.add_typer(regulator_carriers_app, name="carriers")
regulator_users_app = typer.Typer(help="Officials who sign in to the regulator's platform.", no_args_is_help=True)
regulator_app.add_typer(regulator_users_app, name="users")
regulator_lookups_app = typer.Typer(help="The log of officials' lookups.", no_args_is_help=True)
regulator_app.add_typer(regulator_lookups_app, name="lookups")
app.add_typer(regulator_app, name="regulator")
app.add_typer(uploader_app, name="uploader")
numbers_app = typer.Typer(help="Virtual numbers (隐私号): a carrier's pool and its telephony provider's secret.",
                          no_args_is_help=True)
app.add_typer(numbers_app, name="numbers")

out = Console()
err = Console(stderr=True)


class UserError(Exception):
    """A mistake the operator can fix: printed as one line, exit code 1."""


def main() -> None:
    """Entry point: operator mistakes are one line on stderr, never a traceback."""
    try:
        app()
    except ConfigError as exc:
        print(f"parcelguard: configuration error: {exc}", file=sys.stderr)
        sys.exit(2)
    except (UserError, DomainError) as exc:
        print(f"parcelguard: {exc}", file=sys.stderr)
        sys.exit(1)


def _settings(*, production_checked: bool = True) -> Settings:
    settings = get_settings()
    if production_checked:
        problems = settings.production_problems()
        if problems:
            raise ConfigError(problems[0])
    return settings


@contextmanager
def _session(settings: Settings) -> Iterator[Session]:
    engine = db.make_engine(settings.resolved_database_url)
    try:
        with db.make_sessionmaker(engine)() as session, session.begin():
            yield session
    finally:
        engine.dispose()


def _keyring(settings: Settings):  # type: ignore[no-untyped-def]
    from parcelguard.crypto.keyring import Keyring

    return Keyring(settings.load_root_key())


def ensure_dev_root_key(settings: Settings) -> Path | None:
    """Create the development root key file (mode 0600) when no key is configured; None if one is."""
    if settings.root_key is not None or settings.root_key_file is not None:
        return None
    path = settings.dev_key_file
    if path.exists():
        return None
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(f"{DEV_KEY_MARKER}\n{encode_root_key(secrets.token_bytes(32))}\n")
    return path


def ensure_dev_regulator_keys(settings: Settings) -> Path | None:
    """Create the development regulator's keys in var/ when none is configured: its X25519 pair (intake
    seals to the public half, the platform opens with the private one), its Ed25519 pair (the platform
    signs receipts, the uploader checks them) and the key its platform encrypts records under at rest.
    Private halves are mode 0600. Answers the X25519 public key's path when it made the keys."""
    if settings.regulator_public_key is not None or settings.regulator_public_key_file is not None:
        return None
    private_path, public_path = settings.dev_regulator_key_files
    if public_path.exists():
        return None
    from parcelguard.crypto import signing
    from parcelguard.crypto.sealing import generate_x25519_keypair

    private, public = generate_x25519_keypair()
    seed, verify_key = signing.generate()
    private_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    note = "parcelguard development regulator"
    _write_private(private_path, f"# {note} private key (X25519): never use in production", private)
    _write_private(settings.var_dir / "regulator-signing.key", f"# {note} receipt signing key (Ed25519)", seed)
    _write_private(settings.var_dir / "regulator-root.key", f"# {note} platform root key", os.urandom(32))
    (settings.var_dir / "regulator-signing.pub").write_text(
        f"# {note} receipt verifying key (Ed25519)\n{encode_root_key(verify_key)}\n")
    public_path.write_text(f"# {note} public key (X25519)\n{encode_root_key(public)}\n")
    return public_path


def _write_private(path: Path, comment: str, key: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(f"{comment}\n{encode_root_key(key)}\n")


def _regulator_key_or_none(settings: Settings) -> bytes | None:
    try:
        return settings.load_regulator_public_key()
    except ConfigError:
        return None


@app.command()
def init(demo: Annotated[bool, typer.Option(help="Seed the demo carrier and print its logins.")] = False) -> None:
    """Prepare this machine: root key (development), migrations, and the demo data if asked."""
    settings = _settings()
    if settings.env == "dev":
        created = ensure_dev_root_key(settings)
        if created:
            out.print(f"created development root key [bold]{created}[/] (mode 0600)")
        regulator = ensure_dev_regulator_keys(settings)
        if regulator:
            out.print(f"created development regulator key pair [bold]{regulator}[/] (private half mode 0600)")
    settings.load_root_key()
    db.upgrade(settings.resolved_database_url)
    out.print(f"database at migration [bold]{db.head_revision()}[/]: {_safe_url(settings)}")
    if demo:
        if settings.env == "prod":
            raise UserError("the demo data is for development only (PARCELGUARD_ENV=prod)")
        from parcelguard.accounts import flows

        with _session(settings) as session:
            logins = flows.seed_demo(db_session=session, keyring=_keyring(settings),
                                     regulator_public_key=_regulator_key_or_none(settings))
        if settings.env == "dev" and settings.regulator_public_key is None and not settings.regulator_public_key_file:
            _register_demo_on_platform(settings)
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
) -> None:
    """Serve the platform (HTTP)."""
    import uvicorn

    settings = _settings()
    settings.load_root_key()
    host, port = host or settings.host, port or settings.port
    print(f"parcelguard {__version__} on http://{host}:{port}/ (API docs: http://{host}:{port}/docs)", flush=True)
    # proxy_headers=False: uvicorn would otherwise believe X-Forwarded-For from 127.0.0.1 and ::1 (its
    # default) and overwrite the client address; PARCELGUARD_TRUSTED_PROXIES decides that in the app.
    uvicorn.run("parcelguard.web.app:create_app", factory=True, host=host, port=port, log_config=None,
                access_log=False, server_header=False, proxy_headers=False)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply the migrations up to REVISION."""
    settings = _settings()
    db.upgrade(settings.resolved_database_url, revision)
    out.print(f"database at migration [bold]{revision}[/]")


@db_app.command("current")
def db_current() -> None:
    """Print the database's migration and the newest one."""
    settings = _settings()
    engine = db.make_engine(settings.resolved_database_url)
    try:
        out.print(f"current {db.current_revision(engine)}, head {db.head_revision()}")
    finally:
        engine.dispose()


@carriers_app.command("add")
def carriers_add(
    slug: Annotated[str, typer.Option(help="Short lowercase name, e.g. `demo`.")],
    name: Annotated[str, typer.Option(help="Display name.")],
    prefix: Annotated[str, typer.Option(help="Waybill prefix, 2-4 capital letters.")],
) -> None:
    """Add a carrier with its first keys."""
    from parcelguard.accounts import flows

    settings = _settings()
    with _session(settings) as session:
        carrier = flows.create_carrier(db_session=session, keyring=_keyring(settings), slug=slug, name=name,
                                       waybill_prefix=prefix)
        out.print(f"carrier {carrier.slug} {carrier.id}")


@carriers_app.command("add-station")
def carriers_add_station(
    carrier: Annotated[str, typer.Option(help="Carrier slug.")],
    code: Annotated[str, typer.Option(help="Station code, e.g. DE-BJ-CY01.")],
    name: Annotated[str, typer.Option(help="Display name.")],
    region: Annotated[str, typer.Option(help="GB/T 2260 region code (6 digits).")],
) -> None:
    """Add a station (网点) to a carrier."""
    from parcelguard.accounts import service

    settings = _settings()
    with _session(settings) as session:
        carrier_row = _carrier(session, carrier)
        station = service.create_station(db_session=session, carrier_id=carrier_row.id, code=code, name=name,
                                         region_code=region)
        out.print(f"station {station.code} {station.id}")


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Option(help="Sign-in name, lowercase.")],
    role: Annotated[Role, typer.Option(help="The account's role.", case_sensitive=False)],
    carrier: Annotated[str | None, typer.Option(help="Carrier slug (every role but regulator).")] = None,
    station: Annotated[str | None, typer.Option(help="Station code (couriers and station managers).")] = None,
    display_name: Annotated[str | None, typer.Option(help="Shown in the UI; defaults to the username.")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
) -> None:
    """Add an account. The password comes from stdin or a prompt, never from an argument."""
    from parcelguard.accounts import service

    settings = _settings()
    if password_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    with _session(settings) as session:
        carrier_id = station_id = None
        if carrier is not None:
            carrier_id = _carrier(session, carrier).id
        if station is not None:
            if carrier_id is None:
                raise UserError("--station needs --carrier")
            station_id = service.get_station_by_code(db_session=session, carrier_id=carrier_id, code=station).id
        user = service.create_user(db_session=session, username=username, password=password, role=role,
                                   display_name=display_name or username, carrier_id=carrier_id,
                                   station_id=station_id)
        out.print(f"user {user.username} ({user.role}) {user.id}")


@keys_app.command("rotate")
def keys_rotate(carrier: Annotated[str, typer.Option(help="Carrier slug.")]) -> None:
    """Make a new key-encryption key version for a carrier; all new writes use it."""
    settings = _settings()
    with _session(settings) as session:
        version = _keyring(settings).rotate(db_session=session, carrier_id=_carrier(session, carrier).id)
        out.print(f"carrier {carrier}: key-encryption key version {version} is primary")


@keys_app.command("rewrap")
def keys_rewrap(carrier: Annotated[str | None, typer.Option(help="Carrier slug; all carriers if omitted.")] = None) -> None:
    """Re-wrap data keys to their carrier's newest key-encryption key; row data is not rewritten."""
    settings = _settings()
    with _session(settings) as session:
        carrier_id = _carrier(session, carrier).id if carrier else None
        count = _keyring(settings).rewrap(db_session=session, carrier_id=carrier_id)
        out.print(f"re-wrapped {count} data key(s)")


@keys_app.command("new-root")
def keys_new_root() -> None:
    """Print a new random root key (base64) for PARCELGUARD_ROOT_KEY or a key file."""
    print(encode_root_key(secrets.token_bytes(32)))


@audit_app.command("export")
def audit_export(
    out_file: Annotated[str, typer.Option("--out", help="File to write (JSON lines); - for standard output.")],
    carrier: Annotated[str | None, typer.Option(help="Carrier slug; may be left out when there is one carrier.")]
    = None,
) -> None:
    """Write a carrier's audit log (entries and signed tree heads) as JSON lines."""
    from parcelguard.audit import export

    settings = _settings()
    with _session(settings) as session:
        export.snapshot(session)
        carrier_row = _log_carrier(session, carrier)
        if out_file == "-":
            export.write(db_session=session, keyring=_keyring(settings), carrier_id=carrier_row.id, out=sys.stdout)
            return
        target = Path(out_file)
        partial = target.with_name(target.name + ".partial")
        try:
            with partial.open("w", encoding="ascii") as fh:
                done = export.write(db_session=session, keyring=_keyring(settings), carrier_id=carrier_row.id,
                                    out=fh)
            partial.replace(target)  # a failed export leaves no half file under the name asked for
        except OSError as exc:
            raise UserError(f"cannot write {out_file}: {exc.strerror or exc}") from None
        finally:
            partial.unlink(missing_ok=True)
    print(f"exported {done.entries} entries and {done.heads} tree heads of carrier {carrier_row.slug} to {out_file}")


@audit_app.command("verify")
def audit_verify(
    file: Annotated[str | None, typer.Option("--file", help="An export to verify instead of the database; "
                                                            "- for standard input.")] = None,
    carrier: Annotated[str | None, typer.Option(help="Carrier slug; may be left out when there is one carrier. "
                                                     "With --file: the file must be this carrier's log.")] = None,
    public_key: Annotated[list[str] | None, typer.Option(
        "--public-key", metavar="[KEYID=]HEX",
        help="Trust this Ed25519 key for the tree heads (repeatable) instead of the database's keyring.")] = None,
    keys_from_db: Annotated[bool, typer.Option(
        "--keys-from-db", help="With --file: trust the carrier's keys in this database, not the file's.")] = False,
) -> None:
    """Recompute a carrier's audit log and check every signed tree head: `ok <size> <root>`, or the first bad."""
    from parcelguard import verify
    from parcelguard.audit import export

    try:
        by_id, any_id = verify.parse_public_keys(public_key or [])
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if file is None:
        settings = _settings()
        with _session(settings) as session:
            export.snapshot(session)
            carrier_id = _log_carrier(session, carrier).id
            report = export.verify_database(db_session=session, keyring=_keyring(settings), carrier_id=carrier_id,
                                            keys=by_id if public_key else None, any_id_keys=any_id)
    else:
        report = _verify_file(file, carrier, by_id, any_id, keys_from_db, trusted=bool(public_key))
    for note in report.notes:
        print(f"parcelguard: note: {note}", file=sys.stderr)
    print(report.line())
    if not report.ok:
        raise typer.Exit(1)


def _verify_file(file: str, carrier: str | None, by_id: dict[int, bytes], any_id: list[bytes], keys_from_db: bool,
                 *, trusted: bool) -> LogReport:
    import itertools
    import uuid

    from parcelguard import verify
    from parcelguard.audit import export

    if keys_from_db and trusted:
        raise UserError("give --public-key or --keys-from-db, not both")
    try:
        fh = sys.stdin if file == "-" else open(file, encoding="utf-8", errors="surrogateescape")  # noqa: SIM115
    except OSError as exc:
        raise UserError(f"cannot read {file}: {exc.strerror or exc}") from None
    with fh:
        stream = verify.read_records(fh)
        header = next(stream, None)
        if header is None or header.get("type") != "log":
            raise UserError(f"{file}: not an audit log export: the first line is not a log header")
        log_carrier = header.get("carrier")
        if carrier is not None or keys_from_db:
            settings = _settings()
            with _session(settings) as session:
                if carrier is not None:
                    expected = str(_carrier(session, carrier).id)
                    if log_carrier != expected:
                        raise UserError(f"{file} is the log of carrier {log_carrier}, not of {carrier} ({expected})")
                if keys_from_db:
                    try:
                        carrier_id = uuid.UUID(str(log_carrier))
                    except ValueError:
                        raise UserError(f"{file}: not an audit log export: no carrier in its header") from None
                    by_id = export.public_keys(db_session=session, keyring=_keyring(settings), carrier_id=carrier_id)
                    trusted = True
        try:
            return verify.verify_log(itertools.chain([header], stream), by_id, any_id_keys=any_id,
                                     trust_file_keys=not trusted)
        except verify.LogFormatError as exc:
            raise UserError(f"{file}: not an audit log export: {exc}") from None


def _log_carrier(session: Session, slug: str | None):  # type: ignore[no-untyped-def]
    """The carrier named by `slug`, or the only one when there is exactly one."""
    if slug is not None:
        return _carrier(session, slug)
    from sqlalchemy import select

    from parcelguard.accounts.models import Carrier

    # accounts.service has no list of carriers yet: a read of its table, kept to this one place
    slugs = session.scalars(select(Carrier.slug).order_by(Carrier.slug).limit(2)).all()
    if len(slugs) != 1:
        raise UserError("there is no carrier yet" if not slugs else
                        "there is more than one carrier: name one with --carrier SLUG")
    return _carrier(session, slugs[0])


@waybill_app.command("check")
def waybill_check(
    number: Annotated[str, typer.Argument(help="A waybill number (spaces, hyphens and lower case are fine), or "
                                               "the token decoded from a label's QR code.")],
    prefix: Annotated[str | None, typer.Option(help="The carrier prefix it must have, e.g. DE.")] = None,
    case: Annotated[str | None, typer.Option(help="HQ security: resolve the label through the server's gate "
                                                  "(purpose investigation) under this open case id.")] = None,
    server: Annotated[str, typer.Option(envvar="PARCELGUARD_SERVER", help="The carrier platform's URL.")]
    = "http://127.0.0.1:8000",
    username: Annotated[str | None, typer.Option(envvar="PARCELGUARD_USERNAME",
                                                 help="An HQ security account (password: PARCELGUARD_PASSWORD "
                                                      "or asked).")] = None,
) -> None:
    """Check a number's shape and Damm check digit (no key, no database): `valid NUMBER` or `invalid CODE`.
    A label token's shape is checked likewise (`valid-token`). With `--case`, HQ security finds the
    shipment of a found label through the server: the read is logged in the carrier's audit log."""
    from parcelguard.crypto import tokens
    from parcelguard.waybills import numbers

    is_token = len(number.strip()) == tokens.TOKEN_LENGTH
    if is_token:
        try:
            tokens.token_id(number)
        except tokens.TokenInvalid as exc:
            print(f"invalid {exc.reason}")
            raise typer.Exit(1) from None
        reference = {"label_token": number.strip()}
    else:
        result = numbers.check(number, prefix=prefix.upper() if prefix else None)
        if result.waybill is None:
            print(f"invalid {result.reason}")
            raise typer.Exit(1)
        reference = {"waybill_no": result.waybill.value}
    if case is None:
        print("valid-token" if is_token else f"valid {reference['waybill_no']}")
        return
    _resolve_label(server, username, case, reference)


def _resolve_label(server: str, username: str | None, case: str, reference: dict[str, str]) -> None:
    """Sign in as HQ security, resolve through `POST /api/v1/labels:resolve`, sign out; print the answer."""
    import httpx

    if not username:
        raise UserError("resolving needs an HQ security account: --username or PARCELGUARD_USERNAME")
    password = os.environ.get("PARCELGUARD_PASSWORD") or typer.prompt("password", hide_input=True)
    with httpx.Client(base_url=server.rstrip("/"), timeout=30) as client:
        signed = client.post("/api/v1/auth/token", data={"username": username, "password": password})
        if signed.status_code != 200:
            raise UserError(f"sign-in refused: {signed.json().get('code', signed.status_code)}")
        headers = {"Authorization": f"Bearer {signed.json()['access_token']}"}
        try:
            answer = client.post("/api/v1/labels:resolve", json={"case_id": case, **reference}, headers=headers)
        finally:
            client.post("/api/v1/auth/logout", headers=headers)
    body = answer.json()
    if answer.status_code != 200:
        print(f"refused {body.get('reason') or body.get('code')}: {body.get('detail', '')}")
        raise typer.Exit(1)
    print(json.dumps(body, ensure_ascii=False, indent=2))


@id_app.command("check")
def id_check(
    number: Annotated[str, typer.Argument(help="The document number; - reads it from standard input, which keeps "
                                               "it out of the shell history.")],
    doc_type: Annotated[str | None, typer.Option(
        "--type", metavar="TYPE",
        help="resident_id, temporary_resident_id, hmt_residence_permit, foreign_permanent_resident_id, "
             "hk_macao_travel_permit, taiwan_travel_permit, military_officer_id, armed_police_officer_id, "
             "foreign_passport or uscc; taken from the number's shape when left out.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object instead of a line.")] = False,
) -> None:
    """Check a document number (no database): `valid TYPE MASKED` or `invalid REASON`. Never prints the number."""
    import json

    from parcelguard.identity import documents

    if number == "-":
        number = sys.stdin.readline().rstrip("\r\n")
    try:
        document = documents.parse(number, doc_type)
    except documents.InvalidDocument as exc:
        print(json.dumps({"valid": False, "reason": exc.code}) if as_json else f"invalid {exc.code}")
        raise typer.Exit(1) from None
    if as_json:
        print(json.dumps({"valid": True, "type": document.doc_type.value, "masked": str(document.masked)},
                         ensure_ascii=False))
    else:
        print(f"valid {document.doc_type.value} {document.masked}")


@uploader_app.command("run")
def uploader_run(once: Annotated[bool, typer.Option(help="Send what waits now, once, and exit.")] = False) -> None:
    """Send the outbox to the regulator's platform (PARCELGUARD_REGULATOR_URL) until stopped."""
    import signal
    import threading

    from parcelguard.core.logging import configure as configure_logging
    from parcelguard.regulator.uploader import Uploader

    settings = _settings()
    configure_logging(settings.log_level)
    engine = db.make_engine(settings.resolved_database_url)
    uploader = Uploader(
        sessionmaker=db.make_sessionmaker(engine), keyring=_keyring(settings), url=settings.regulator_url,
        receipt_keys=settings.load_regulator_receipt_keys(), batch_records=settings.upload_batch_records,
        linger=settings.upload_linger_seconds, timeout=settings.upload_timeout_seconds,
        backoff_max=settings.upload_backoff_max_seconds, alert_seconds=settings.upload_alert_seconds)
    try:
        if once:
            sent = uploader.run_once(force=True)
            print(f"batches {len(sent)}, records delivered {sum(s.delivered for s in sent)}, "
                  f"failed {sum(1 for s in sent if s.error)}")
            if any(s.error for s in sent):
                raise typer.Exit(1)
            return
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        print(f"parcelguard uploader to {settings.regulator_url}", flush=True)
        uploader.run(stop)
    finally:
        uploader.close()
        engine.dispose()


@uploader_app.command("registration")
def uploader_registration(carrier: Annotated[str, typer.Option(help="The carrier's slug.")]) -> None:
    """Print what the regulator registers this carrier with (JSON for `parcelguard regulator carriers add`):
    its code, id and the public half of its upload signing key (made now if it has none)."""
    from parcelguard.regulator import flows

    settings = _settings()
    with _session(settings) as session:
        db.begin_write(session)
        print(json.dumps(flows.registration(db_session=session, keyring=_keyring(settings), carrier_slug=carrier),
                         ensure_ascii=False))


# -- the regulator's platform: its own settings (PARCELGUARD_REGULATOR_*), database and keys -------------

def _regulator_settings() -> RegulatorSettings:
    from parcelguard.core.config import RegulatorSettings

    settings = RegulatorSettings()
    problems = settings.production_problems()
    if problems:
        raise ConfigError(problems[0])
    return settings


def _regulator_migrate(settings: RegulatorSettings) -> str | None:
    """Bring the platform's database to its newest migration; answers that revision."""
    from alembic.util import CommandError

    from parcelguard.regulator.platform.migrations import MIGRATIONS_DIR

    try:
        db.upgrade(settings.resolved_database_url, script_location=MIGRATIONS_DIR)
    except CommandError as exc:
        raise UserError(f"cannot migrate the platform's database ({exc}): is it another platform's "
                        "database? Set PARCELGUARD_REGULATOR_DATABASE_URL") from None
    return db.head_revision(MIGRATIONS_DIR)


@contextmanager
def _regulator_session(settings: RegulatorSettings) -> Iterator[Session]:
    from parcelguard.regulator.platform.migrations import MIGRATIONS_DIR

    engine = db.make_engine(settings.resolved_database_url)
    try:
        if db.current_revision(engine) != db.head_revision(MIGRATIONS_DIR):
            raise UserError("the platform's database is not at its newest migration: run "
                            "`parcelguard regulator init`")
        with db.make_sessionmaker(engine)() as session, session.begin():
            db.begin_write(session)
            yield session
    finally:
        engine.dispose()


DEMO_OFFICIAL = "demo-official"


def _register_demo_on_platform(settings: Settings) -> None:
    """Development: the regulator's platform beside this one (its database migrated) knows the demo
    carrier and its upload key, as `parcelguard regulator carriers add` would make it, and has a demo
    official to sign in as."""
    import base64
    import uuid

    from sqlalchemy import select

    from parcelguard.accounts.flows import DEMO_PASSWORD
    from parcelguard.regulator import flows as feed
    from parcelguard.regulator.platform import officials, service
    from parcelguard.regulator.platform.models import Official

    with _session(settings) as session:
        db.begin_write(session)
        entry = feed.registration(db_session=session, keyring=_keyring(settings), carrier_slug="demo")
    from parcelguard.core.config import RegulatorSettings

    regulator = RegulatorSettings(var_dir=settings.var_dir)
    _regulator_migrate(regulator)
    with _regulator_session(regulator) as session:
        done = service.register_carrier(db_session=session, code=entry["code"],
                                        carrier_uuid=uuid.UUID(entry["carrier_id"]), name=entry["name"],
                                        public_key=base64.b64decode(entry["public_key"]))
        if session.scalar(select(Official.id).where(Official.username == DEMO_OFFICIAL)) is None:
            officials.add_official(db_session=session, username=DEMO_OFFICIAL, display_name="演示监管员",
                                   password=DEMO_PASSWORD)
    out.print(f"regulator platform ({_safe_url(regulator)}) knows carrier [bold]{done.code}[/], "
              f"upload key {done.key_id}; its official signs in as [bold]{DEMO_OFFICIAL}[/] "
              f"(password {DEMO_PASSWORD})")


@app.command("run-all")
def run_all() -> None:
    """The whole chain on one machine, for development and the demo (`make run`): the carrier platform,
    the regulator's platform and the uploader, each its own process, as in production. Ctrl-C stops all
    three; if one stops, the others are stopped too."""
    import signal
    import subprocess
    import time

    from parcelguard.core.config import RegulatorSettings

    regulator = RegulatorSettings()
    env = dict(os.environ)
    # The uploader feeds the platform started here, unless told otherwise.
    env.setdefault("PARCELGUARD_REGULATOR_URL", f"http://{regulator.host}:{regulator.port}")
    me = [sys.executable, "-m", "parcelguard"]
    processes = [subprocess.Popen([*me, *args], env=env)
                 for args in (["regulator", "run"], ["uploader", "run"], ["run"])]
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    code = 0
    while not stopping:
        ended = [p for p in processes if p.poll() is not None]
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
    raise typer.Exit(0 if stopping else code)


@regulator_app.command("init")
def regulator_init() -> None:
    """Prepare the regulator's platform: its development keys (as `parcelguard init` makes them) and its
    database's migrations. Prints the key carriers seal to and the receipt key id."""
    from parcelguard.regulator.platform.keys import PlatformKeys

    settings = _regulator_settings()
    if settings.env == "dev" and settings.private_key is None and settings.private_key_file is None:
        created = ensure_dev_regulator_keys(Settings(var_dir=settings.var_dir))
        if created:
            print(f"created development regulator keys in {settings.var_dir} (private halves mode 0600)")
    keys = PlatformKeys.from_settings(settings)
    revision = _regulator_migrate(settings)
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

    settings = _regulator_settings()
    PlatformKeys.from_settings(settings)  # a missing key is one line here, not a traceback in the server
    _regulator_migrate(settings)
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
    settings = _regulator_settings()
    with _regulator_session(settings) as session:
        done = service.register_carrier(db_session=session, code=entry["code"], carrier_uuid=carrier_uuid,
                                        name=entry["name"], public_key=public_key)
    what = "registered" if done.carrier_created else "already registered"
    key = "added" if done.key_added else "already registered"
    print(f"carrier {done.code} ({done.carrier_id}) {what}; key {done.key_id} {key}")


@regulator_carriers_app.command("revoke-key")
def regulator_carriers_revoke_key(
    code: Annotated[str, typer.Option("--carrier", help="The carrier's code.")],
    key_id: Annotated[str, typer.Argument(help="The key's id (16 hex digits).")],
) -> None:
    """Revoke a carrier's batch-signing key: batches it signs are refused from now on."""
    from parcelguard.regulator.platform import service

    with _regulator_session(_regulator_settings()) as session:
        revoked = service.revoke_key(db_session=session, code=code, key_id=key_id)
    print(f"carrier {code}: key {key_id} {'revoked' if revoked else 'was revoked already'}")


@regulator_users_app.command("add")
def regulator_users_add(
    username: Annotated[str, typer.Argument(help="Sign-in name, lowercase.")],
    display_name: Annotated[str, typer.Option(help="The official's name as the platform shows it.")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
) -> None:
    """Add an official (role regulator). The password comes from stdin or a prompt, never from an argument."""
    from parcelguard.regulator.platform import officials

    settings = _regulator_settings()
    if password_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    with _regulator_session(settings) as session:
        official = officials.add_official(db_session=session, username=username, display_name=display_name,
                                          password=password)
    print(f"official {official.username} (regulator) {official.id}")


@regulator_users_app.command("disable")
def regulator_users_disable(username: Annotated[str, typer.Argument(help="The official's sign-in name.")]) -> None:
    """Disable an official: their tokens stop working at once and they cannot sign in."""
    from parcelguard.regulator.platform import officials

    with _regulator_session(_regulator_settings()) as session:
        officials.disable_official(db_session=session, username=username)
    print(f"official {username} disabled")


@regulator_lookups_app.command("verify")
def regulator_lookups_verify() -> None:
    """Check the lookup log: every entry chains to the one before and the signed head names the last.
    Prints `ok: ...` or `DAMAGED: ...` (exit code 1)."""
    from parcelguard.regulator.platform import lookup_log
    from parcelguard.regulator.platform.keys import PlatformKeys

    settings = _regulator_settings()
    keys = PlatformKeys.from_settings(settings)
    with _regulator_session(settings) as session:
        report = lookup_log.verify(db_session=session, keys=keys)
    print(report.line())
    if not report.ok:
        raise typer.Exit(1)


@numbers_app.command("add")
def numbers_add(
    carrier: Annotated[str, typer.Option(help="Carrier slug.")],
    numbers: Annotated[list[str], typer.Argument(help="Numbers to add, E.164 (+8657112345678).")],
) -> None:
    """Add numbers to a carrier's pool (all or none); a number already in the pool is no error."""
    from parcelguard.core.errors import Invalid
    from parcelguard.privacy_numbers import service

    settings = _settings()
    with _session(settings) as session:
        db.begin_write(session)
        carrier_row = _carrier(session, carrier)
        try:
            added = service.add_numbers(db_session=session, carrier_id=carrier_row.id, numbers=numbers)
        except Invalid as exc:
            bad = [f"{numbers[int(e.pointer.rsplit('/', 1)[1])]!r}: {e.code}" for e in exc.errors
                   if e.pointer.rsplit("/", 1)[-1].isdigit()]
            raise UserError(f"nothing added: {'; '.join(bad) or exc.detail}") from None
    print(f"carrier {carrier}: added {len(added)} number(s), {len(numbers) - len(added)} already in the pool")
    for number in added:
        print(number)


@numbers_app.command("list")
def numbers_list(carrier: Annotated[str, typer.Option(help="Carrier slug.")]) -> None:
    """Print a carrier's pool: number, active or inactive, extensions bound of 10000, added."""
    from parcelguard.privacy_numbers import service

    settings = _settings()
    with _session(settings) as session:
        pool = service.list_numbers(db_session=session, carrier_id=_carrier(session, carrier).id)
    for n in pool:
        print(f"{n.number}\t{'active' if n.active else 'inactive'}\t{n.live_bindings}/{service.EXTENSIONS}\t"
              f"{n.added_at.isoformat(timespec='seconds')}")


@numbers_app.command("secret")
def numbers_secret(
    carrier: Annotated[str, typer.Option(help="Carrier slug.")],
    rotate: Annotated[bool, typer.Option("--rotate", help="Make a new secret first and print it.")] = False,
    overlap_hours: Annotated[int, typer.Option(help="With --rotate: hours the replaced secret keeps working "
                                                    "(0-168; 0 when it leaked).")] = 24,
) -> None:
    """Print the secret the carrier's telephony provider signs its requests with (HMAC-SHA256; see the
    X-Parcelguard-Signature header in the API docs). With --rotate, make a new one: the replaced secret
    works for --overlap-hours, so the provider can switch without dropping calls."""
    from datetime import timedelta

    from parcelguard.core.errors import Conflict, Invalid
    from parcelguard.privacy_numbers import service

    settings = _settings()
    with _session(settings) as session:
        if rotate:
            db.begin_write(session)
        carrier_id = _carrier(session, carrier).id
        keyring = _keyring(settings)
        if rotate:
            try:
                new = service.rotate_provider_secret(db_session=session, keyring=keyring, carrier_id=carrier_id,
                                                     overlap=timedelta(hours=overlap_hours))
            except (Invalid, Conflict) as exc:
                raise UserError(exc.detail) from None
            assert new.created_at is not None
            until = new.created_at + timedelta(hours=overlap_hours)
            print(f"carrier {carrier}: provider secret generation {new.generation}; the previous one works until "
                  f"{until:%Y-%m-%d %H:%M} UTC", file=sys.stderr)
        secret = service.provider_secret(db_session=session, keyring=keyring, carrier_id=carrier_id)
    print(secret)


@app.command()
def version() -> None:
    """Print the version."""
    print(f"parcelguard {__version__}")


def _carrier(session: Session, slug: str):  # type: ignore[no-untyped-def]
    from parcelguard.accounts import service

    carrier = service.get_carrier_by_slug(db_session=session, slug=slug)
    if carrier is None:
        raise UserError(f"no carrier with slug {slug!r}")
    return carrier


def _safe_url(settings: Settings | RegulatorSettings) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.resolved_database_url).render_as_string(hide_password=True)
