"""What the commands share: settings, a session, the keyring, development keys, the carrier by slug, and the
regulator's platform and the industry blacklist as the commands reach them."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from parcelguard.core import db
from parcelguard.core.config import (
    DEV_INDUSTRY_KEY_FILE,
    DEV_KEY_MARKER,
    ConfigError,
    Settings,
    encode_root_key,
    get_settings,
)

if TYPE_CHECKING:
    from parcelguard.core.config import BlacklistSettings, RegulatorSettings

from parcelguard.cli.apps import UserError, out


def load_settings(*, production_checked: bool = True) -> Settings:
    settings = get_settings()
    if production_checked:
        problems = settings.production_problems()
        if problems:
            raise ConfigError(problems[0])
    return settings


@contextmanager
def open_session(settings: Settings) -> Iterator[Session]:
    engine = db.make_engine(settings.resolved_database_url)
    try:
        with db.make_sessionmaker(engine)() as session, session.begin():
            yield session
    finally:
        engine.dispose()


def load_keyring(settings: Settings):  # type: ignore[no-untyped-def]
    from parcelguard.crypto.keyring import Keyring
    from parcelguard.crypto.keystore import open_store

    return Keyring(settings.load_root_key(), keystore=open_store(settings.keystore_url))


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
    write_private(private_path, f"# {note} private key (X25519): never use in production", private)
    write_private(settings.var_dir / "regulator-signing.key", f"# {note} receipt signing key (Ed25519)", seed)
    write_private(settings.var_dir / "regulator-root.key", f"# {note} platform root key", os.urandom(32))
    (settings.var_dir / "regulator-signing.pub").write_text(
        f"# {note} receipt verifying key (Ed25519)\n{encode_root_key(verify_key)}\n")
    public_path.write_text(f"# {note} public key (X25519)\n{encode_root_key(public)}\n")
    return public_path


def write_private(path: Path, comment: str, key: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(f"{comment}\n{encode_root_key(key)}\n")


def regulator_key_or_none(settings: Settings) -> bytes | None:
    try:
        return settings.load_regulator_public_key()
    except ConfigError:
        return None


def load_regulator_settings() -> RegulatorSettings:
    from parcelguard.core.config import RegulatorSettings

    settings = RegulatorSettings()
    problems = settings.production_problems()
    if problems:
        raise ConfigError(problems[0])
    return settings


def migrate_regulator(settings: RegulatorSettings) -> str | None:
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
def open_regulator_session(settings: RegulatorSettings) -> Iterator[Session]:
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


def register_demo_on_platform(settings: Settings) -> None:
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

    with open_session(settings) as session:
        db.begin_write(session)
        entry = feed.registration(db_session=session, keyring=load_keyring(settings), carrier_slug="demo")
    from parcelguard.core.config import RegulatorSettings

    regulator = RegulatorSettings(var_dir=settings.var_dir)
    migrate_regulator(regulator)
    with open_regulator_session(regulator) as session:
        done = service.register_carrier(db_session=session, code=entry["code"],
                                        carrier_uuid=uuid.UUID(entry["carrier_id"]), name=entry["name"],
                                        public_key=base64.b64decode(entry["public_key"]))
        if session.scalar(select(Official.id).where(Official.username == DEMO_OFFICIAL)) is None:
            officials.add_official(db_session=session, username=DEMO_OFFICIAL, display_name="演示监管员",
                                   password=DEMO_PASSWORD)
    out.print(f"regulator platform ({safe_url(regulator)}) knows carrier [bold]{done.code}[/], "
              f"upload key {done.key_id}; its official signs in as [bold]{DEMO_OFFICIAL}[/] "
              f"(password {DEMO_PASSWORD})")


def ensure_dev_blacklist_keys(blacklist: BlacklistSettings, carrier: Settings | None = None) -> list[tuple[Path, str]]:
    """Development: the blacklist's root key and, for the carriers on this machine, the industry key they share,
    in var/ (mode 0600), each made when missing and not configured: the root key when the blacklist has none
    set; the industry key when `carrier` has none set or, without `carrier` (`parcelguard blacklist init`, which
    reads no carrier's settings), when the root key is not set either. Answers (path, what) for each it made."""
    if blacklist.env != "dev":
        return []
    own_root = blacklist.root_key is None and blacklist.root_key_file is None
    wanted = [(blacklist.dev_root_key_file, "blacklist root key")] if own_root else []
    if (own_root if carrier is None else
            carrier.blacklist_industry_key is None and carrier.blacklist_industry_key_file is None):
        wanted.append((blacklist.var_dir / DEV_INDUSTRY_KEY_FILE, "industry key (carriers' shared key)"))
    made = []
    for path, what in wanted:
        if not path.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            write_private(path, f"# parcelguard development {what}: never use in production", os.urandom(32))
            made.append((path, what))
    return made


def prepare_dev_blacklist(settings: Settings) -> BlacklistSettings | None:
    """Development, unless the carrier is pointed at a blacklist of the operator's (PARCELGUARD_BLACKLIST_URL,
    even empty): the blacklist `run-all` starts beside this platform, prepared as `parcelguard blacklist init`
    prepares it (its development keys in var/, its database's migrations). Answers its settings, or None when
    it is not this machine's to prepare."""
    if settings.env != "dev" or settings.blacklist_url is not None:
        return None
    from parcelguard.blacklist.platform.keys import BlacklistKeys
    from parcelguard.cli.blacklist import migrate_blacklist
    from parcelguard.core.config import BlacklistSettings

    blacklist = BlacklistSettings(var_dir=settings.var_dir)
    for path, what in ensure_dev_blacklist_keys(blacklist, settings):
        out.print(f"created development {what} [bold]{path}[/] (mode 0600)")
    BlacklistKeys.from_settings(blacklist)
    revision = migrate_blacklist(blacklist)
    out.print(f"blacklist database at migration [bold]{revision}[/]: {safe_url(blacklist)}")
    return blacklist


def register_demo_on_blacklist(settings: Settings, blacklist: BlacklistSettings) -> None:
    """Development: the blacklist beside this platform (prepared by `prepare_dev_blacklist`) knows the demo
    carrier and its reporting key, as `parcelguard blacklist registration` then `parcelguard blacklist carriers
    add` would make it, so hiring checks are on in the demo."""
    import base64
    import uuid

    from parcelguard.blacklist import service as carrier_side
    from parcelguard.blacklist.platform import service
    from parcelguard.cli.blacklist import open_blacklist_session

    with open_session(settings) as session:
        db.begin_write(session)
        entry = carrier_side.registration(db_session=session, keyring=load_keyring(settings), carrier_slug="demo")
    with open_blacklist_session(blacklist) as session:
        done = service.register_carrier(db_session=session, code=entry["code"],
                                        carrier_uuid=uuid.UUID(entry["carrier_id"]), name=entry["name"],
                                        public_key=base64.b64decode(entry["public_key"]))
    out.print(f"blacklist ({safe_url(blacklist)}): carrier [bold]{done.code}[/] "
              f"{'registered' if done.carrier_created else 'already registered'}, reporting key {done.key_id} "
              f"{'added' if done.key_added else 'already registered'}")


def carrier_by_slug(session: Session, slug: str):  # type: ignore[no-untyped-def]
    from parcelguard.accounts import service

    carrier = service.get_carrier_by_slug(db_session=session, slug=slug)
    if carrier is None:
        raise UserError(f"no carrier with slug {slug!r}")
    return carrier


def safe_url(settings: Settings | RegulatorSettings | BlacklistSettings) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.resolved_database_url).render_as_string(hide_password=True)
