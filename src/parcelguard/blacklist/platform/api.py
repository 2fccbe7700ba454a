"""The blacklist's routes: a registered carrier reports a person and asks whether a person is listed, each
request signed with its key (the signature is its authentication). Thin: `service` does the rest. The
operator's work (carriers, entries, appeals) is at the command line, `parcelguard blacklist ...`."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response

from parcelguard.blacklist.platform import service
from parcelguard.blacklist.platform.keys import BlacklistKeys
from parcelguard.blacklist.platform.schemas import QueryOut, ReportOut
from parcelguard.core.db import SessionDep

router = APIRouter(tags=["industry blacklist"])
NO_STORE = {"Cache-Control": "no-store"}
_REFUSED = {403: {"description": "carrier_key_unknown (unknown carrier, unknown or revoked key), request_signature, "
                                 "request_stale: nothing stored"},
            422: {"description": "The request does not follow the format (the protocol's code and pointer): "
                                 "nothing stored"}}


def _keys(request: Request) -> BlacklistKeys:
    keys: BlacklistKeys = request.app.state.blacklist_keys
    return keys


def _tolerance(request: Request) -> timedelta:
    return timedelta(seconds=request.app.state.settings.request_tolerance_seconds)


Keys = Annotated[BlacklistKeys, Depends(_keys)]
Tolerance = Annotated[timedelta, Depends(_tolerance)]


@router.post("/reports", response_model=ReportOut, status_code=201,
             summary="A carrier reports a person (a keyed hash, never a document number), signed with its key",
             responses={200: {"description": "The same report sent again: answered as the first time",
                              "model": ReportOut},
                        409: {"description": "entry_conflict: another report is stored under this entry id"},
                        **_REFUSED})
def post_report(report: Annotated[Any, Body(description="A signed report, as docs/blacklist.md describes it")],
                response: Response, db_session: SessionDep, keys: Keys, tolerance: Tolerance) -> ReportOut:
    """The entry is stored with the carrier's signature, so it stays attributable to that carrier on audit;
    the person is stored as a keyed hash of what the carrier sent."""
    done = service.report(db_session=db_session, keys=keys, wire=report, tolerance=tolerance)
    response.status_code = 201 if done.created else 200
    response.headers.update(NO_STORE)
    return ReportOut(entry_id=done.entry_id, status=done.status, received_at=done.received_at)  # type: ignore[arg-type]


@router.post("/queries", response_model=QueryOut,
             summary="Is this person listed? A carrier's signed query, logged; the answer is listed or not, only",
             responses={409: {"description": "query_replayed: this query id was used before"}, **_REFUSED})
def post_query(query: Annotated[Any, Body(description="A signed query, as docs/blacklist.md describes it")],
               response: Response, db_session: SessionDep, keys: Keys, tolerance: Tolerance) -> QueryOut:
    """Never who reported, why or when. The query is written to the platform's query log (carrier, time, a
    keyed digest of the person, the answer), which no carrier is shown."""
    listed = service.query(db_session=db_session, keys=keys, wire=query, tolerance=tolerance)
    response.headers.update(NO_STORE)
    return QueryOut(listed=listed)
