"""Carriers, their stations and accounts."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from parcelguard.cli.apps import UserError, carriers_app, out, users_app
from parcelguard.cli.context import carrier_by_slug, load_keyring, load_settings, open_session
from parcelguard.core.auth import Role


@carriers_app.command("add")
def carriers_add(
    slug: Annotated[str, typer.Option(help="Short lowercase name, e.g. `demo`.")],
    name: Annotated[str, typer.Option(help="Display name.")],
    prefix: Annotated[str, typer.Option(help="Waybill prefix, 2-4 capital letters.")],
) -> None:
    """Add a carrier with its first keys."""
    from parcelguard.accounts import flows

    settings = load_settings()
    with open_session(settings) as session:
        carrier = flows.create_carrier(db_session=session, keyring=load_keyring(settings), slug=slug, name=name,
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

    settings = load_settings()
    with open_session(settings) as session:
        carrier_row = carrier_by_slug(session, carrier)
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

    settings = load_settings()
    if password_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    with open_session(settings) as session:
        carrier_id = station_id = None
        if carrier is not None:
            carrier_id = carrier_by_slug(session, carrier).id
        if station is not None:
            if carrier_id is None:
                raise UserError("--station needs --carrier")
            station_id = service.get_station_by_code(db_session=session, carrier_id=carrier_id, code=station).id
        user = service.create_user(db_session=session, username=username, password=password, role=role,
                                   display_name=display_name or username, carrier_id=carrier_id,
                                   station_id=station_id)
        out.print(f"user {user.username} ({user.role}) {user.id}")
