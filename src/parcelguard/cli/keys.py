"""Keys: rotation, re-wrapping, a new root key."""

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
    settings = load_settings()
    with open_session(settings) as session:
        version = load_keyring(settings).rotate(db_session=session, carrier_id=carrier_by_slug(session, carrier).id)
        out.print(f"carrier {carrier}: key-encryption key version {version} is primary")


@keys_app.command("rewrap")
def keys_rewrap(carrier: Annotated[str | None, typer.Option(help="Carrier slug; all carriers if omitted.")] = None) -> None:
    """Re-wrap data keys to their carrier's newest key-encryption key; row data is not rewritten."""
    settings = load_settings()
    with open_session(settings) as session:
        carrier_id = carrier_by_slug(session, carrier).id if carrier else None
        count = load_keyring(settings).rewrap(db_session=session, carrier_id=carrier_id)
        out.print(f"re-wrapped {count} data key(s)")


@keys_app.command("new-root")
def keys_new_root() -> None:
    """Print a new random root key (base64) for PARCELGUARD_ROOT_KEY or a key file."""
    print(encode_root_key(secrets.token_bytes(32)))
