"""The industry blacklist: its operator's commands (database, key, server, carriers, entries, appeals) and a
carrier's (its registration on the blacklist, a person's keyed hash for an appeal)."""

from __future__ import annotations

import base64
import binascii
import json
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from parcelguard import __version__
from parcelguard.cli.apps import UserError, blacklist_app
from parcelguard.cli.context import ensure_dev_blacklist_keys, load_keyring, load_settings, open_session
from parcelguard.core import db
from parcelguard.core.config import BlacklistSettings, ConfigError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

carriers_app = typer.Typer(help="Carriers registered on the blacklist and their signing keys.", no_args_is_help=True)
entries_app = typer.Typer(help="Entries: who reported what (the operator's view); a person's entries.",
                          no_args_is_help=True)
appeals_app = typer.Typer(help="Appeals against entries: open, decide, list.", no_args_is_help=True)
blacklist_app.add_typer(carriers_app, name="carriers")
blacklist_app.add_typer(entries_app, name="entries")
blacklist_app.add_typer(appeals_app, name="appeals")


def load_blacklist_settings() -> BlacklistSettings:
    settings = BlacklistSettings()
    problems = settings.production_problems()
    if problems:
        raise ConfigError(problems[0])
    return settings


def migrate_blacklist(settings: BlacklistSettings) -> str | None:
    from alembic.util import CommandError

    from parcelguard.blacklist.platform.migrations import MIGRATIONS_DIR

    try:
        db.upgrade(settings.resolved_database_url, script_location=MIGRATIONS_DIR)
    except CommandError as exc:
        raise UserError(f"cannot migrate the blacklist's database ({exc}): is it another platform's database? "
                        "Set PARCELGUARD_BLACKLIST_DATABASE_URL") from None
    return db.head_revision(MIGRATIONS_DIR)


@contextmanager
def open_blacklist_session(settings: BlacklistSettings) -> Iterator[Session]:
    from parcelguard.blacklist.platform.migrations import MIGRATIONS_DIR

    engine = db.make_engine(settings.resolved_database_url)
    try:
        if db.current_revision(engine) != db.head_revision(MIGRATIONS_DIR):
            raise UserError("the blacklist's database is not at its newest migration: run `parcelguard blacklist init`")
        with db.make_sessionmaker(engine)() as session, session.begin():
            db.begin_write(session)
            yield session
    finally:
        engine.dispose()


def _read(file: str) -> str:
    try:
        return sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {file}: {getattr(exc, 'strerror', None) or exc}") from None


def _person_from_stdin() -> bytes:
    """A person's keyed hash (base64, as `parcelguard blacklist person-hash` prints it) from standard input."""
    text = sys.stdin.readline().strip().rstrip("=").translate(str.maketrans("-_", "+/"))  # base64url too
    try:
        person = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        person = b""
    if len(person) != 32:
        raise UserError("standard input holds no person hash (base64 of 32 bytes, as `parcelguard blacklist "
                        "person-hash` prints it)")
    return person


# -- the platform ---------------------------------------------------------------------------------------

@blacklist_app.command("init")
def blacklist_init() -> None:
    """Prepare the blacklist: in development its root key and, for the carriers on this machine, an industry
    key (var/, mode 0600; the blacklist never reads the industry key); then its database's migrations."""
    settings = load_blacklist_settings()
    for path, what in ensure_dev_blacklist_keys(settings):
        print(f"created the development {what} in {path} (mode 0600)")
    from parcelguard.blacklist.platform.keys import BlacklistKeys

    BlacklistKeys.from_settings(settings)
    revision = migrate_blacklist(settings)
    from sqlalchemy.engine import make_url

    url = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
    print(f"blacklist database at migration {revision}: {url}")


@blacklist_app.command("run")
def blacklist_run(
    host: Annotated[str | None, typer.Option(help="Default PARCELGUARD_BLACKLIST_HOST or 127.0.0.1.")] = None,
    port: Annotated[int | None, typer.Option(help="Default PARCELGUARD_BLACKLIST_PORT or 8002.")] = None,
) -> None:
    """Serve the blacklist (HTTP), after bringing its database to the newest migration."""
    import uvicorn

    from parcelguard.blacklist.platform.keys import BlacklistKeys

    settings = load_blacklist_settings()
    BlacklistKeys.from_settings(settings)  # a missing key is one line here, not a traceback in the server
    migrate_blacklist(settings)
    host, port = host or settings.host, port or settings.port
    print(f"parcelguard industry blacklist {__version__} on http://{host}:{port}/", flush=True)
    uvicorn.run("parcelguard.web.blacklist_app:create_blacklist_app", factory=True, host=host, port=port,
                log_config=None, access_log=False, server_header=False, proxy_headers=False)


@carriers_app.command("add")
def carriers_add(
    file: Annotated[str, typer.Argument(help="The carrier's registration, JSON as `parcelguard blacklist "
                                             "registration` prints it; - reads standard input.")],
) -> None:
    """Register a carrier and its signing key (or add a key to a registered carrier)."""
    from parcelguard.blacklist.platform import service
    from parcelguard.crypto import signing

    entry = _json(file)
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
    with open_blacklist_session(load_blacklist_settings()) as session:
        done = service.register_carrier(db_session=session, code=entry["code"], carrier_uuid=carrier_uuid,
                                        name=entry["name"], public_key=public_key)
    what = "registered" if done.carrier_created else "already registered"
    print(f"carrier {done.code} ({done.carrier_id}) {what}; key {done.key_id} "
          f"{'added' if done.key_added else 'already registered'}")


def _json(file: str) -> object:
    try:
        return json.loads(_read(file))
    except ValueError:
        raise UserError(f"{file}: not JSON") from None


@carriers_app.command("list")
def carriers_list() -> None:
    """The registered carriers and their keys (revoked ones marked)."""
    from parcelguard.blacklist.platform import service

    with open_blacklist_session(load_blacklist_settings()) as session:
        for c in service.list_carriers(db_session=session):
            keys = ", ".join(k + (f" (revoked {r:%Y-%m-%d})" if r else "") for k, _, r in c.keys) or "no key"
            print(f"{c.code}\t{c.carrier_id}\t{c.name}\t{keys}")


@carriers_app.command("revoke-key")
def carriers_revoke_key(
    code: Annotated[str, typer.Option("--carrier", help="The carrier's code.")],
    key_id: Annotated[str, typer.Argument(help="The key's id (16 hex digits).")],
    reason: Annotated[str | None, typer.Option(help="Why (2-200 characters), kept with the revocation.")] = None,
) -> None:
    """Revoke a carrier's key: reports and queries it signs are refused from now on; the entries it signed stay
    and still verify."""
    from parcelguard.blacklist.platform import service

    with open_blacklist_session(load_blacklist_settings()) as session:
        revoked = service.revoke_key(db_session=session, code=code, key_id=key_id, reason=reason)
    print(f"carrier {code}: key {key_id} {'revoked' if revoked else 'was revoked already'}")


# -- entries and appeals (the operator's) ------------------------------------------------------------------

def _entry_line(e: object) -> str:
    from parcelguard.blacklist.platform.appeals import EntryView

    assert isinstance(e, EntryView)
    removed = f"\tremoved {e.removed_at:%Y-%m-%d %H:%M} by appeal {e.removed_by_appeal}" if e.removed_at else ""
    return (f"{e.entry_id}\t{e.status}\t{e.carrier}\t{e.reason_code}\t{e.evidence_ref}\t"
            f"reported {e.reported_at:%Y-%m-%d %H:%M:%S}Z{removed}")


@entries_app.command("list")
def entries_list(
    carrier: Annotated[str | None, typer.Option(help="One carrier's code.")] = None,
    status: Annotated[str | None, typer.Option(help="listed or removed.")] = None,
) -> None:
    """Entries, oldest first: id, status, reporting carrier, reason, evidence reference, time. No person."""
    from parcelguard.blacklist.platform import appeals

    with open_blacklist_session(load_blacklist_settings()) as session:
        for e in appeals.list_entries(db_session=session, carrier=carrier, status=status):
            print(_entry_line(e))


@entries_app.command("find")
def entries_find() -> None:
    """A person's entries, listed or removed, each with whether its signature is its carrier's over the report
    about this person. The person's hash is read from standard input (`parcelguard blacklist person-hash`)."""
    from parcelguard.blacklist.platform import appeals
    from parcelguard.blacklist.platform.keys import BlacklistKeys

    person = _person_from_stdin()
    settings = load_blacklist_settings()
    keys = BlacklistKeys.from_settings(settings)
    with open_blacklist_session(settings) as session:
        found = appeals.find_entries(db_session=session, keys=keys, person=person)
        for e in found:
            signed = appeals.entry_signed(db_session=session, keys=keys, entry_id=e.entry_id, person=person)
            print(_entry_line(e) + f"\tsignature {'verifies' if signed else 'DOES NOT VERIFY'}")
    if not found:
        print("no entry")


@appeals_app.command("open")
def appeals_open(
    entry: Annotated[str, typer.Option(help="The entry's id.")],
    grounds: Annotated[str, typer.Option(help="What the appeal says (2-500 characters; no document or phone "
                                              "numbers).")],
    via: Annotated[str | None, typer.Option(help="The carrier's code when the person appealed through a "
                                                 "carrier.")] = None,
) -> None:
    """Open an appeal against a listed entry."""
    from parcelguard.blacklist.platform import appeals

    with open_blacklist_session(load_blacklist_settings()) as session:
        opened = appeals.open_appeal(db_session=session, entry_id=_uuid(entry, "--entry"), grounds=grounds,
                                     via_carrier=via)
    print(f"appeal {opened.appeal_id} opened against entry {opened.entry_id}"
          + (f" through carrier {via}" if via else ""))


@appeals_app.command("decide")
def appeals_decide(
    appeal: Annotated[str, typer.Argument(help="The appeal's id.")],
    decision: Annotated[str, typer.Option(help="upheld (the entry stays listed) or removed (it is marked removed, "
                                               "never deleted).")],
    reason: Annotated[str, typer.Option(help="Why (2-500 characters), kept with the decision.")],
) -> None:
    """Decide an open appeal. A removed entry answers `listed: false` from then on; its record stays."""
    from parcelguard.blacklist.platform import appeals

    with open_blacklist_session(load_blacklist_settings()) as session:
        done = appeals.decide(db_session=session, appeal_id=_uuid(appeal, "the appeal id"), decision=decision,
                              reason=reason)
    print(f"appeal {done.appeal_id}: {done.status}; entry {done.entry_id} "
          + ("removed" if done.status == "removed" else "stays listed"))


@appeals_app.command("list")
def appeals_list(open_only: Annotated[bool, typer.Option("--open", help="Undecided appeals only.")] = False) -> None:
    """Appeals, oldest first: id, status, entry, channel, decision."""
    from parcelguard.blacklist.platform import appeals

    with open_blacklist_session(load_blacklist_settings()) as session:
        for a in appeals.list_appeals(db_session=session, open_only=open_only):
            decided = f"\tdecided {a.decided_at:%Y-%m-%d %H:%M}: {a.decision_reason}" if a.decided_at else ""
            print(f"{a.appeal_id}\t{a.status}\tentry {a.entry_id}\tvia {a.via_carrier or 'operator'}{decided}")


def _uuid(text: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise UserError(f"{what} is not a UUID") from None


# -- a carrier's commands ------------------------------------------------------------------------------------

@blacklist_app.command("registration")
def blacklist_registration(carrier: Annotated[str, typer.Option(help="The carrier's slug.")]) -> None:
    """Print what the blacklist registers this carrier with (JSON for `parcelguard blacklist carriers add`): its
    code, id, name and the public half of its reporting key (made now if it has none)."""
    from parcelguard.blacklist import service

    settings = load_settings()
    with open_session(settings) as session:
        db.begin_write(session)
        print(json.dumps(service.registration(db_session=session, keyring=load_keyring(settings),
                                              carrier_slug=carrier), ensure_ascii=False))


@blacklist_app.command("person-hash")
def blacklist_person_hash(
    doc_type: Annotated[str | None, typer.Option("--type", help="The document's type (default: from its shape).")]
    = None,
) -> None:
    """Read a document number from standard input (never an argument: it would show in the process list) and
    print its keyed hash under this carrier's industry key: what the blacklist's operator finds a person's
    entries by when they appeal. The number is checked first and never printed."""
    from parcelguard.blacklist import protocol
    from parcelguard.identity import documents

    settings = load_settings()
    key = settings.load_blacklist_industry_key()
    try:
        document = documents.parse(sys.stdin.readline().strip(), doc_type)
    except documents.InvalidDocument as exc:
        raise UserError(f"not a valid document number ({exc.code})") from None
    print(protocol.b64(protocol.person_hash(key, document.index_key)))
