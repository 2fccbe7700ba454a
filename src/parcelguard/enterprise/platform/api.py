"""The enterprise console's routes: employees sign in; the company's admin configures carrier connections and
imports their rate tables; every employee quotes. Thin: `employees`, `connections`, `rate_tables` and `quotes`
do the rest."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field
from starlette.responses import Response

from parcelguard.core.auth import Actor, CurrentActor, Role, bearer_token, forget_cached_actors, require
from parcelguard.core.db import SessionDep
from parcelguard.enterprise.platform import connections, employees, quotes, rate_tables
from parcelguard.enterprise.platform.keys import EnterpriseKeys
from parcelguard.enterprise.platform.settings import EnterpriseSettings

router = APIRouter()
Employee = Annotated[Actor, require(Role.ADMIN, Role.ENTERPRISE)]
Admin = Annotated[Actor, require(Role.ADMIN)]


def _settings(request: Request) -> EnterpriseSettings:
    settings: EnterpriseSettings = request.app.state.settings
    return settings


def _keys(request: Request) -> EnterpriseKeys:
    keys: EnterpriseKeys = request.app.state.enterprise_keys
    return keys


Keys = Annotated[EnterpriseKeys, Depends(_keys)]


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime


class MeOut(BaseModel):
    username: str
    role: str
    company_id: uuid.UUID


@router.post("/auth/token", response_model=TokenOut, tags=["employees"],
             summary="An employee signs in with a username and password (OAuth2 password form)",
             responses={401: {"description": "login_failed (one answer for any wrong part)"},
                        429: {"description": "login_locked: too many failures for this username"}})
def sign_in(form: Annotated[OAuth2PasswordRequestForm, Depends()], db_session: SessionDep,
            settings: Annotated[EnterpriseSettings, Depends(_settings)]) -> TokenOut:
    issued = employees.sign_in(db_session=db_session, username=form.username, password=form.password,
                               token_ttl=timedelta(seconds=settings.token_ttl_seconds),
                               max_failures=settings.login_max_failures,
                               lockout=timedelta(seconds=settings.login_lockout_seconds))
    return TokenOut(access_token=issued.token, expires_at=issued.expires_at)


@router.post("/auth/logout", status_code=204, tags=["employees"], summary="Revoke the token of this request")
def sign_out(request: Request, actor: CurrentActor, db_session: SessionDep,
             token: Annotated[str, Depends(bearer_token)]) -> Response:
    employees.sign_out(db_session=db_session, actor=actor)
    forget_cached_actors(request, token)
    return Response(status_code=204)


@router.get("/me", response_model=MeOut, tags=["employees"], summary="The signed-in employee")
def me(actor: Employee) -> MeOut:
    return MeOut(username=actor.username, role="admin" if actor.role == Role.ADMIN else "shipper",
                 company_id=employees.company_of(actor))


# -- carrier connections ------------------------------------------------------------------------------------------

class CredentialsIn(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=200)


class ConnectionIn(BaseModel):
    code: str = Field(description="The carrier's short code as the company calls it (SF, ZTO)", max_length=16)
    name: str = Field(max_length=200)
    adapter: str = Field(default="parcelguard", description="How the console talks to the carrier")
    base_url: str = Field(description="The carrier's API address, e.g. https://api.carrier.example",
                          max_length=500)
    credentials: CredentialsIn


class ConnectionOut(BaseModel):
    id: uuid.UUID
    code: str
    name: str
    adapter: str
    base_url: str
    active: bool
    created_at: datetime


def _connection_out(c: Any) -> ConnectionOut:
    return ConnectionOut(id=c.id, code=c.code, name=c.name, adapter=c.adapter, base_url=c.base_url,
                         active=c.active, created_at=c.created_at)


@router.post("/connections", response_model=ConnectionOut, status_code=201, tags=["carriers"],
             summary="Connect a carrier the company has a contract with (admin; the credentials are never "
                     "answered back)",
             responses={409: {"description": "connection_code_taken"},
                        422: {"description": "connection_invalid naming each field"}})
def add_connection(body: ConnectionIn, actor: Admin, db_session: SessionDep, keys: Keys) -> ConnectionOut:
    added = connections.add(db_session=db_session, keys=keys, company_id=employees.company_of(actor, admin=True),
                            code=body.code, name=body.name, adapter=body.adapter, base_url=body.base_url,
                            credentials=connections.Credentials(body.credentials.username,
                                                                body.credentials.password))
    return _connection_out(added)


class ConnectionChange(BaseModel):
    name: str | None = Field(default=None, max_length=200)
    base_url: str | None = Field(default=None, description="The carrier's new API address", max_length=500)
    credentials: CredentialsIn | None = Field(default=None, description="The company's new account there")
    active: bool | None = Field(default=None, description="false pauses it: no quotes, no new orders")


@router.patch("/connections/{connection_id}", response_model=ConnectionOut, tags=["carriers"],
              summary="Change a carrier connection: its name, address, the company's credentials there, or pause "
                      "and resume it (admin; the next call to the carrier uses what changed)",
              responses={404: {"description": "connection_unknown"},
                         422: {"description": "connection_invalid naming each field"}})
def change_connection(connection_id: uuid.UUID, body: ConnectionChange, actor: Admin, db_session: SessionDep,
                      keys: Keys) -> ConnectionOut:
    credentials = body.credentials
    changed = connections.change(
        db_session=db_session, keys=keys, company_id=employees.company_of(actor, admin=True),
        connection_id=connection_id, name=body.name, base_url=body.base_url, active=body.active,
        credentials=None if credentials is None else connections.Credentials(credentials.username,
                                                                             credentials.password))
    return _connection_out(changed)


@router.get("/connections", response_model=list[ConnectionOut], tags=["carriers"],
            summary="The company's carrier connections")
def list_connections(actor: Employee, db_session: SessionDep) -> list[ConnectionOut]:
    return [_connection_out(c) for c in connections.listed(db_session=db_session,
                                                           company_id=employees.company_of(actor))]


# -- rate tables ------------------------------------------------------------------------------------------------

class VersionOut(BaseModel):
    id: uuid.UUID
    connection_id: uuid.UUID
    version: str
    effective_from: date
    lanes: int
    surcharges: int
    file_name: str
    file_sha256: str
    imported_at: datetime


def _version_out(v: Any) -> VersionOut:
    return VersionOut(id=v.id, connection_id=v.connection_id, version=v.version, effective_from=v.effective_from,
                      lanes=v.lanes, surcharges=v.surcharges, file_name=v.file_name, file_sha256=v.file_sha256.hex(),
                      imported_at=v.imported_at)


@router.post("/connections/{connection_id}/rate-tables", response_model=VersionOut, status_code=201,
             tags=["rate tables"],
             summary="Import a version of the carrier's agreed rate table from CSV or XLSX (admin)",
             responses={404: {"description": "connection_unknown"},
                        409: {"description": "rate_version_exists: a version already starts on that day"},
                        413: {"description": "rate_file_too_large"},
                        422: {"description": "rate_table_invalid: every error with its sheet, row and column"}})
async def import_rate_table(
    connection_id: uuid.UUID, actor: Admin, db_session: SessionDep,
    file: Annotated[UploadFile, File(description="The table: .csv (UTF-8 or GB18030) or .xlsx")],
    version: Annotated[str, Form(max_length=64, description="The version's name, e.g. 2027 协议价")],
    effective_from: Annotated[date, Form(description="The first day (Beijing) it is in force")],
    surcharges: Annotated[UploadFile | None, File(description="CSV only: the surcharges as a second file")] = None,
) -> VersionOut:
    data = await file.read(rate_tables.MAX_FILE_BYTES + 1)
    extra = await surcharges.read(rate_tables.MAX_FILE_BYTES + 1) if surcharges is not None else None
    imported = rate_tables.import_file(
        db_session=db_session, company_id=employees.company_of(actor, admin=True), connection_id=connection_id,
        data=data, file_name=file.filename or "", version=version, effective_from=effective_from,
        surcharges=extra, imported_by=actor.user_id)
    return _version_out(imported)


@router.get("/connections/{connection_id}/rate-tables", response_model=list[VersionOut], tags=["rate tables"],
            summary="The connection's rate table versions, newest first")
def list_rate_tables(connection_id: uuid.UUID, actor: Employee, db_session: SessionDep) -> list[VersionOut]:
    return [_version_out(v) for v in rate_tables.versions(db_session=db_session,
                                                          company_id=employees.company_of(actor),
                                                          connection_id=connection_id)]


# -- quotes -----------------------------------------------------------------------------------------------------

class QuoteIn(BaseModel):
    origin_province: str = Field(max_length=32)
    destination_province: str = Field(max_length=32)
    destination_city: str | None = Field(default=None, max_length=32)
    weight_kg: Decimal = Field(gt=0, le=1000, decimal_places=3, description="The parcel's weight in kg (at most "
                                                                             "3 decimals)")
    on: date | None = Field(default=None, description="The day (Beijing) to price for; default today")


class ChargeOut(BaseModel):
    name: str
    fen: int


class CarrierQuoteOut(BaseModel):
    connection_id: uuid.UUID
    carrier: str
    name: str
    version: str
    total_fen: int
    total_yuan: str
    breakdown: list[ChargeOut]
    transit_days_min: int
    transit_days_max: int
    lane: str = Field(description="`city` or `province`: which lane of the table priced it")
    cheapest: bool
    fastest: bool


class UnservedOut(BaseModel):
    connection_id: uuid.UUID
    carrier: str
    reason: str = Field(description="`no_table` (none in force that day), `no_lane` or `too_heavy`")


class QuotesOut(BaseModel):
    on: date
    quotes: list[CarrierQuoteOut]
    unserved: list[UnservedOut]


@router.post("/quotes", response_model=QuotesOut, tags=["quotes"],
             summary="Every connected carrier's price and transit time for a parcel, cheapest first",
             responses={422: {"description": "province_unknown, weight_format"}})
def quote(body: QuoteIn, actor: Employee, db_session: SessionDep) -> QuotesOut:
    found = quotes.compare(db_session=db_session, company_id=employees.company_of(actor),
                           origin_province=body.origin_province, destination_province=body.destination_province,
                           destination_city=body.destination_city, weight_g=int(body.weight_kg * 1000), on=body.on)
    return QuotesOut(on=found.on, quotes=[CarrierQuoteOut(**q) for q in found.quotes],
                     unserved=[UnservedOut(**u) for u in found.unserved])
