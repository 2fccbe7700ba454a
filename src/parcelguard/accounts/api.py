"""Routes for sign-in, the current account, stations and terminals. Thin: parse, call, shape."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.security import OAuth2PasswordRequestForm
from starlette.responses import Response

from parcelguard.accounts import flows, service
from parcelguard.accounts.schemas import (
    CarrierSettingsOut,
    CarrierSettingsPatch,
    MeOut,
    PrinterIn,
    StationOut,
    TerminalIn,
    TerminalOut,
    TokenOut,
)
from parcelguard.core.auth import (
    TERMINAL_HEADER,
    Actor,
    CurrentActor,
    Role,
    bearer_token,
    forget_cached_actors,
    require,
)
from parcelguard.core.config import Settings
from parcelguard.core.db import SessionDep

router = APIRouter()
StaffManager = Annotated[Actor, require(Role.STATION_MANAGER, Role.HQ_SECURITY, Role.ADMIN)]
CarrierStaff = Annotated[
    Actor, require(Role.COURIER, Role.STATION_MANAGER, Role.HQ_SECURITY, Role.AUDITOR, Role.ADMIN)
]


async def _settings(request: Request) -> Settings:
    return request.app.state.settings


@router.post("/auth/token", response_model=TokenOut, tags=["auth"],
             summary="Sign in with a username and password (OAuth2 password form)")
def sign_in(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    db_session: SessionDep,
    settings: Annotated[Settings, Depends(_settings)],
    terminal_id: Annotated[str | None, Header(alias=TERMINAL_HEADER)] = None,
) -> TokenOut:
    """Answers an opaque bearer token. Send `X-Terminal-Id` to bind the token to a registered terminal;
    every later request with that token must then come with the same header."""
    issued = service.sign_in(
        db_session=db_session, username=form.username, password=form.password, terminal_id=terminal_id,
        token_ttl=timedelta(seconds=settings.token_ttl_seconds), max_failures=settings.login_max_failures,
        lockout=timedelta(seconds=settings.login_lockout_seconds),
    )
    return TokenOut(access_token=issued.token, expires_at=issued.expires_at, terminal_id=issued.terminal_id)


@router.post("/auth/logout", status_code=204, tags=["auth"], summary="Revoke the token of this request")
def sign_out(request: Request, actor: CurrentActor, db_session: SessionDep,
             token: Annotated[str, Depends(bearer_token)]) -> Response:
    service.sign_out(db_session=db_session, actor=actor)
    forget_cached_actors(request, token)
    return Response(status_code=204)


@router.get("/me", response_model=MeOut, tags=["auth"], summary="The signed-in account")
async def me(actor: CurrentActor) -> MeOut:
    return MeOut(id=actor.user_id, username=actor.username, role=actor.role, carrier_id=actor.carrier_id,
                 station_id=actor.station_id, terminal_id=actor.terminal_id)


@router.get("/stations", response_model=list[StationOut], tags=["stations"])
def list_stations(actor: CarrierStaff, db_session: SessionDep) -> list[StationOut]:
    assert actor.carrier_id is not None
    stations = service.list_stations(db_session=db_session, carrier_id=actor.carrier_id)
    return [StationOut.model_validate(s) for s in stations]


@router.get("/stations/{station_id}", response_model=StationOut, tags=["stations"])
def get_station(station_id: uuid.UUID, actor: CarrierStaff, db_session: SessionDep) -> StationOut:
    assert actor.carrier_id is not None
    return StationOut.model_validate(
        service.get_station(db_session=db_session, carrier_id=actor.carrier_id, station_id=station_id)
    )


@router.post("/terminals", response_model=TerminalOut, status_code=201, tags=["terminals"],
             summary="Register a courier terminal at a station")
def register_terminal(body: TerminalIn, actor: StaffManager, db_session: SessionDep) -> TerminalOut:
    terminal = service.register_terminal(
        db_session=db_session, actor=actor, serial=body.serial, label=body.label, station_id=body.station_id
    )
    return TerminalOut.model_validate(terminal)


@router.get("/terminals", response_model=list[TerminalOut], tags=["terminals"])
def list_terminals(actor: StaffManager, db_session: SessionDep) -> list[TerminalOut]:
    return [TerminalOut.model_validate(t) for t in service.list_terminals(db_session=db_session, actor=actor)]


@router.get("/terminals/{terminal_id}", response_model=TerminalOut, tags=["terminals"])
def get_terminal(terminal_id: uuid.UUID, actor: StaffManager, db_session: SessionDep) -> TerminalOut:
    return TerminalOut.model_validate(service.get_terminal(db_session=db_session, actor=actor, terminal_id=terminal_id))


@router.put("/terminals/{terminal_id}/printer", response_model=TerminalOut, tags=["terminals"],
            summary="Name the networked thermal printer a terminal prints labels on")
def set_printer(terminal_id: uuid.UUID, body: PrinterIn, actor: StaffManager, db_session: SessionDep) -> TerminalOut:
    """The courier's app then offers to print a label on it (ZPL over raw TCP), and
    `POST /shipments/{id}/label:print` sends it there. Only an address of a private, loopback or link-local
    network (422 `printer_address_public`): the server opens a connection to it."""
    terminal = service.set_printer(db_session=db_session, actor=actor, terminal_id=terminal_id, address=body.address)
    return TerminalOut.model_validate(terminal)


@router.post("/terminals/{terminal_id}/revoke", response_model=TerminalOut, tags=["terminals"],
             summary="Revoke a terminal: its tokens stop working at once")
def revoke_terminal(request: Request, terminal_id: uuid.UUID, actor: StaffManager,
                    db_session: SessionDep) -> TerminalOut:
    terminal = service.revoke_terminal(db_session=db_session, actor=actor, terminal_id=terminal_id)
    forget_cached_actors(request)  # which cached tokens were bound to it is not known here: drop all
    return TerminalOut.model_validate(terminal)


CarrierReader = Annotated[Actor, require(Role.ADMIN, Role.HQ_SECURITY, Role.AUDITOR)]
Admin = Annotated[Actor, require(Role.ADMIN)]


@router.get("/carrier/settings", response_model=CarrierSettingsOut, tags=["carrier"],
            summary="The carrier's settings")
def get_carrier_settings(actor: CarrierReader, db_session: SessionDep) -> CarrierSettingsOut:
    return CarrierSettingsOut(**vars(flows.carrier_settings(db_session=db_session, actor=actor)))


@router.patch("/carrier/settings", response_model=CarrierSettingsOut, tags=["carrier"],
              summary="Change the carrier's settings (admin); each change is logged")
def change_carrier_settings(body: CarrierSettingsPatch, request: Request, actor: Admin,
                            db_session: SessionDep) -> CarrierSettingsOut:
    changed = flows.change_carrier_settings(
        db_session=db_session, keyring=request.app.state.keyring, actor=actor,
        request_id=getattr(request.state, "request_id", None), **body.model_dump())
    return CarrierSettingsOut(**vars(changed))
