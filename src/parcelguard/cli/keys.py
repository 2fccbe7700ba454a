"""Keys: rotation, re-wrapping, a new root key. A rotation and every batch re-wrapped are entries of the carrier's
audit log, as from the HQ console; the entry's actor is empty and its role `command_line`."""

from __future__ import annotations

import secrets
from typing import Annotated

import typer

from parcelguard.cli.apps import keys_app, out
from parcelguard.cli.context import carrier_by_slug, load_keyring, load_settings, open_session
from parcelguard.core.config import encode_root_key


@keys_app.command("rotate")
def keys_rotate(carrier: Annotated[str, typer.Option(help="Carrier slug.")]) -> None:
    """Make a new key-encryption key version for a carrier; all new writes use it."""
    from parcelguard.core import db
    from parcelguard.keys import service

    settings = load_settings()
    with open_session(settings) as session:
        db.begin_write(session)
        done = service.rotate_from_command_line(db_session=session, keyring=load_keyring(settings),
                                                carrier_id=carrier_by_slug(session, carrier).id)
        out.print(f"carrier {carrier}: key-encryption key version {done.version} is primary "
                  f"(audit log entry {done.log_index})")


@keys_app.command("rewrap")
def keys_rewrap(
    carrier: Annotated[str | None, typer.Option(help="Carrier slug; all carriers if omitted.")] = None,
    batch: Annotated[int, typer.Option(min=1, max=10_000, help="Data keys per transaction: each batch is "
                                                                "committed (and logged) on its own.")] = 500,
) -> None:
    """Re-wrap data keys to their carrier's newest key-encryption key; row data is not rewritten. Batches commit
    one by one, so an interrupted run keeps what it did and the next run resumes."""
    from parcelguard.core import db
    from parcelguard.keys import service

    settings = load_settings()
    keyring = load_keyring(settings)
    with open_session(settings) as session:
        owners = [carrier_by_slug(session, carrier).id] if carrier else service.owners_behind(db_session=session)
    engine = db.make_engine(settings.resolved_database_url)
    total = 0
    try:
        for owner in owners:
            count = batch
            while count == batch:  # one transaction per batch, which takes SQLite's write lock first
                with db.make_sessionmaker(engine)() as session, session.begin():
                    db.begin_write(session)
                    count = service.rewrap_from_command_line(db_session=session, keyring=keyring, carrier_id=owner,
                                                             limit=batch).count
                total += count
    finally:
        engine.dispose()
    out.print(f"re-wrapped {total} data key(s)")


@keys_app.command("new-root")
def keys_new_root() -> None:
    """Print a new random root key (base64) for PARCELGUARD_ROOT_KEY or a key file."""
    print(encode_root_key(secrets.token_bytes(32)))
