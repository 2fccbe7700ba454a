"""The platform's routes: carriers send signed batches; anyone may fetch the receipt keys; officials
sign in, see the figures, look records up (each lookup logged before it answers), and see the carriers'
keys and revoke one. Thin: a batch's signature is its authentication, an official's bearer token theirs;
`service`, `officials`, `figures`, `lookup_log` and `carriers` do the rest."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.security import OAuth2PasswordRequestForm
from starlette.responses import JSONResponse, Response

from parcelguard.core.auth import Actor, CurrentActor, Role, bearer_token, forget_cached_actors, require
from parcelguard.core.config import RegulatorSettings
from parcelguard.core.db import SessionDep
from parcelguard.core.errors import Unauthorized
from parcelguard.regulator.platform import carriers, figures, lookup_log, officials, service
from parcelguard.regulator.platform.keys import PlatformKeys
from parcelguard.regulator.platform.schemas import (
    CarrierDelayOut,
    CarrierKeyOut,
    CarrierOut,
    CarriersOut,
    CountRowOut,
    CountsOut,
    DelayOut,
    DelaysOut,
    DocumentLookupIn,
    LookupEntryOut,
    LookupHeadOut,
    LookupOut,
    LookupsOut,
    MeOut,
    RecordOut,
    RevocationOut,
    RevokeKeyIn,
    TokenOut,
)

router = APIRouter(tags=["real-name platform"])
Official = Annotated[Actor, require(Role.REGULATOR)]
# What an official was answered holds personal data: no cache anywhere may keep it.
NO_STORE = {"Cache-Control": "no-store"}


def _keys(request: Request) -> PlatformKeys:
    keys: PlatformKeys = request.app.state.platform_keys
    return keys


Keys = Annotated[PlatformKeys, Depends(_keys)]


@router.post("/batches", summary="Take in a signed batch of sealed real-name records; answer a signed receipt",
             responses={403: {"description": "carrier_key_unknown, batch_signature: nothing stored"},
                        422: {"description": "The batch does not follow the format (the protocol's code and "
                                             "pointer): nothing stored"}})
def post_batch(batch: Annotated[Any, Body(description="A batch, as docs/regulator.md describes it")],
               db_session: SessionDep, keys: Keys) -> JSONResponse:
    """Each record is accepted (stored once, however often it is sent) or rejected with a reason; the
    receipt lists both and is signed with the key `GET /receipt-keys` publishes."""
    return JSONResponse(service.ingest(db_session=db_session, keys=keys, batch_wire=batch))


@router.get("/receipt-keys", summary="The public keys the platform signs receipts with, by key id")
def get_receipt_keys(keys: Keys) -> dict[str, dict[str, str]]:
    return {"keys": service.receipt_keys(keys=keys)}


# -- officials: sign-in ------------------------------------------------------------------------------

def _settings(request: Request) -> RegulatorSettings:
    settings: RegulatorSettings = request.app.state.settings
    return settings


@router.post("/auth/token", response_model=TokenOut, tags=["officials"],
             summary="An official signs in with a username and password (OAuth2 password form)",
             responses={401: {"description": "login_failed (one answer for any wrong part)"},
                        429: {"description": "login_locked: too many failures for this username"}})
def sign_in(form: Annotated[OAuth2PasswordRequestForm, Depends()], db_session: SessionDep,
            settings: Annotated[RegulatorSettings, Depends(_settings)]) -> TokenOut:
    """Answers an opaque bearer token, valid `PARCELGUARD_REGULATOR_TOKEN_TTL_SECONDS` (8 hours)."""
    issued = officials.sign_in(db_session=db_session, username=form.username, password=form.password,
                               token_ttl=timedelta(seconds=settings.token_ttl_seconds),
                               max_failures=settings.login_max_failures,
                               lockout=timedelta(seconds=settings.login_lockout_seconds))
    return TokenOut(access_token=issued.token, expires_at=issued.expires_at)


@router.post("/auth/logout", status_code=204, tags=["officials"], summary="Revoke the token of this request")
def sign_out(request: Request, actor: CurrentActor, db_session: SessionDep,
             token: Annotated[str, Depends(bearer_token)]) -> Response:
    officials.sign_out(db_session=db_session, actor=actor)
    forget_cached_actors(request, token)
    return Response(status_code=204)


@router.get("/me", response_model=MeOut, tags=["officials"], summary="The signed-in official")
def me(actor: Official, db_session: SessionDep) -> MeOut:
    official = officials.get_official(db_session=db_session, official_id=actor.user_id)
    if official is None:
        raise Unauthorized("The account is gone.", code="token_invalid")
    return MeOut(id=official.id, username=official.username, display_name=official.display_name, role=actor.role)


# -- figures -------------------------------------------------------------------------------------------

Since = Annotated[str | None, Query(description="Start (included): a Beijing day `YYYY-MM-DD` or an ISO 8601 "
                                               "time with offset; default a day before `until`")]
Until = Annotated[str | None, Query(description="End (excluded), as `since`; default now")]


@router.get("/stats/counts", response_model=CountsOut, response_model_exclude_none=True, tags=["figures"],
            summary="Records taken in during a window, by carrier, station, region or Beijing day")
def get_counts(actor: Official, db_session: SessionDep,
               by: Annotated[Literal["carrier", "station", "region", "day"], Query()],
               since: Since = None, until: Until = None) -> CountsOut:
    """Counts by `taken_at` in `[since, until)` (at most 366 days); a day is a Beijing day (UTC+8)."""
    win = figures.window(since=figures.moment(since, "since"), until=figures.moment(until, "until"),
                         limit=figures.MAX_COUNT_WINDOW)
    rows = figures.counts(db_session=db_session, by=by, win=win)
    return CountsOut(by=by, since=win.since, until=win.until,
                     rows=[CountRowOut(key=r.key, carrier=r.carrier, records=r.records) for r in rows])


@router.get("/stats/delay", response_model=DelaysOut, tags=["figures"],
            summary="Upload delay percentiles (p50, p90, p99, max) per carrier and overall")
def get_delay(actor: Official, db_session: SessionDep, since: Since = None, until: Until = None,
              carrier: Annotated[str | None, Query(description="One carrier's code")] = None) -> DelaysOut:
    """Delay = received_at - taken_at of the records taken in during `[since, until)` (at most 31 days),
    in seconds; nearest-rank percentiles."""
    win = figures.window(since=figures.moment(since, "since"), until=figures.moment(until, "until"),
                         limit=figures.MAX_DELAY_WINDOW)
    per_carrier, overall = figures.delays(db_session=db_session, win=win, carrier=carrier)
    return DelaysOut(since=win.since, until=win.until, carriers=[CarrierDelayOut.of(d) for d in per_carrier],
                     overall=DelayOut.of(overall))


# -- lookups (each logged before it answers) -------------------------------------------------------------

def _lookup_out(result: service.LookupResult, response: Response) -> LookupOut:
    response.headers.update(NO_STORE)
    return LookupOut(lookup=result.entry.seq, found=result.entry.found, truncated=result.truncated,
                     records=[RecordOut.of(r) for r in result.records])


@router.get("/records", response_model=LookupOut, tags=["lookups"],
            summary="Look records up by waybill number (logged)")
def lookup_by_waybill(request: Request, response: Response, actor: Official, db_session: SessionDep, keys: Keys,
                      waybill_no: Annotated[str, Query(min_length=1, max_length=64)],
                      purpose: Annotated[str | None, Query(max_length=200, description="Why: written to the "
                                                           "lookup log with the query")] = None) -> LookupOut:
    """Every record of this waybill number, opened. The lookup is written to the lookup log first, with
    the stated purpose; if that fails, nothing is answered."""
    return _lookup_out(service.lookup_by_waybill(db_session=db_session, keys=keys, actor=actor,
                                                 waybill_no=waybill_no, request_id=_request_id(request),
                                                 purpose=purpose), response)


@router.post("/records:lookup", response_model=LookupOut, tags=["lookups"],
             summary="Look records up by document number (logged; POST so the number is in no URL)")
def lookup_by_document(request: Request, response: Response, body: DocumentLookupIn, actor: Official,
                       db_session: SessionDep, keys: Keys) -> LookupOut:
    """Every record whose sender, or whose organisation's responsible person, holds this document however
    it was typed, opened. The lookup is written to the lookup log first (a keyed digest of the number,
    never the number); if that fails, nothing is answered."""
    found = service.lookup_by_document(db_session=db_session, keys=keys, actor=actor, number=body.number,
                                       doc_type=body.doc_type, request_id=_request_id(request), purpose=body.purpose)
    return _lookup_out(found, response)


@router.get("/lookups", response_model=LookupsOut, tags=["lookups"],
            summary="The lookup log, newest first, with its signed head")
def get_lookups(actor: Official, db_session: SessionDep,
                before: Annotated[int | None, Query(ge=0, le=2**62, description="Entries below this sequence number")] = None,
                limit: Annotated[int, Query(ge=1, le=500)] = 100) -> LookupsOut:
    head = lookup_log.head(db_session=db_session)
    entries = lookup_log.entries(db_session=db_session, before=before, limit=limit)
    return LookupsOut(
        head=LookupHeadOut(size=head.size, head_hash=head.head_hash.hex(), key_id=head.key_id,
                           signature=base64.b64encode(head.signature).decode() if head.signature else None),
        entries=[LookupEntryOut.of(e) for e in entries])


# -- carriers and their keys -------------------------------------------------------------------------------

@router.get("/carriers", response_model=CarriersOut, tags=["carriers"],
            summary="The registered carriers with their batch-signing keys, revoked ones with who, when and why")
def get_carriers(actor: Official, db_session: SessionDep) -> CarriersOut:
    """By carrier code; each carrier's keys in force first. Each key's newest batch is one index probe."""
    return CarriersOut(carriers=[CarrierOut.of(c) for c in carriers.list_carriers(db_session=db_session)])


@router.post("/carriers/{code}/keys/{key_id}/revoke", response_model=RevocationOut, tags=["carriers"],
             summary="Revoke a carrier's batch-signing key, with a reason: batches it signs are refused from now on",
             responses={404: {"description": "carrier_unknown, carrier_key_unknown"},
                        409: {"description": "carrier_key_revoked: revoked before; that revocation is kept as "
                                             "it was"},
                        422: {"description": "reason_format (2 to 200 characters): nothing written"}})
def revoke_carrier_key(code: Annotated[str, Path(description="The carrier's code")],
                       key_id: Annotated[str, Path(description="The key's id")], body: RevokeKeyIn,
                       actor: Official, db_session: SessionDep) -> RevocationOut:
    """Records when, which official and why. From the commit on, `POST /batches` answers a batch signed with
    the key 403 `carrier_key_unknown`. A carrier left with no key in force cannot upload until it registers a
    new one (`parcelguard uploader registration`, then `parcelguard regulator carriers add`)."""
    done = carriers.revoke(db_session=db_session, code=code, key_id=key_id, reason=body.reason,
                           official_id=actor.user_id)
    return RevocationOut(carrier=done.carrier.code, active_keys=done.carrier.active_keys,
                         key=CarrierKeyOut.of(done.key))


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)
