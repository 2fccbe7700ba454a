"""Virtual numbers (隐私号): a carrier's pool and its telephony provider's secret."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from parcelguard.cli.apps import UserError, numbers_app
from parcelguard.cli.context import carrier_by_slug, load_keyring, load_settings, open_session
from parcelguard.core import db


@numbers_app.command("add")
def numbers_add(
    carrier: Annotated[str, typer.Option(help="Carrier slug.")],
    numbers: Annotated[list[str], typer.Argument(help="Numbers to add, E.164 (+8657112345678).")],
) -> None:
    """Add numbers to a carrier's pool (all or none); a number already in the pool is no error."""
    from parcelguard.core.errors import Invalid
    from parcelguard.privacy_numbers import service

    settings = load_settings()
    with open_session(settings) as session:
        db.begin_write(session)
        carrier_row = carrier_by_slug(session, carrier)
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

    settings = load_settings()
    with open_session(settings) as session:
        pool = service.list_numbers(db_session=session, carrier_id=carrier_by_slug(session, carrier).id)
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

    settings = load_settings()
    with open_session(settings) as session:
        if rotate:
            db.begin_write(session)
        carrier_id = carrier_by_slug(session, carrier).id
        keyring = load_keyring(settings)
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
