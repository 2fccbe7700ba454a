"""The platform's routes: carriers send signed batches; anyone may fetch the receipt keys. Thin: the
batch's signature is its authentication, `service` does the rest."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from starlette.responses import JSONResponse

from parcelguard.core.db import SessionDep
from parcelguard.regulator.platform import service
from parcelguard.regulator.platform.keys import PlatformKeys

router = APIRouter(tags=["real-name platform"])


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
