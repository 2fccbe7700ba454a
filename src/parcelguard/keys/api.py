"""Routes for a carrier's keys: read them (HQ security, auditors, the admin), rotate the key-encryption key and
re-wrap data keys in batches (HQ security and the admin). Thin: parse, call the service, shape."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request

from parcelguard.core.auth import Actor, require
from parcelguard.core.db import SessionDep
from parcelguard.keys import service
from parcelguard.keys.schemas import DataKeysOut, KeysOut, RewrapIn, RewrappedOut, RotatedOut

router = APIRouter(tags=["keys"])
Reader = Annotated[Actor, require(*service.READERS)]
Keeper = Annotated[Actor, require(*service.KEEPERS)]


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


@router.get("/keys", response_model=KeysOut,
            summary="The carrier's key versions, data-key counts and re-wrapping progress (no key material)")
def get_keys(actor: Reader, db_session: SessionDep) -> KeysOut:
    return KeysOut.of(service.overview(db_session=db_session, actor=actor))


@router.post("/keys:rotate", response_model=RotatedOut, status_code=201,
             summary="Make a new key-encryption key version primary (logged in the audit log)",
             responses={409: {"description": "`rotation_in_progress`: another rotation won the race"}})
def rotate(request: Request, actor: Keeper, db_session: SessionDep) -> RotatedOut:
    """New data keys are wrapped under the new version at once (other server processes follow within the
    keyring's cache lifetime, 60 s); older versions stay to unwrap until re-wrapping has moved every data key.
    The answer names the audit-log entry of the rotation (subject `keys:kek:v<version>`, purpose `key_rotate`)."""
    done = service.rotate(db_session=db_session, keyring=request.app.state.keyring, actor=actor,
                          request_id=_request_id(request))
    return RotatedOut(version=done.version, log_index=done.log_index)


@router.post("/keys:rewrap", response_model=RewrappedOut,
             summary="Re-wrap the next batch of data keys under the primary version (logged in the audit log)")
def rewrap(request: Request, actor: Keeper, db_session: SessionDep, body: RewrapIn | None = None) -> RewrappedOut:
    """At most `limit` data keys, committed together; call again until `data_keys.older` is 0. Row data is not
    rewritten: a ciphertext names its data key, not the KEK. A batch that re-wrapped any key is an audit-log
    entry (subject `keys:rewrapped:<count>:to:v<version>`, purpose `key_rewrap`)."""
    done = service.rewrap(db_session=db_session, keyring=request.app.state.keyring, actor=actor,
                          limit=(body or RewrapIn()).limit, request_id=_request_id(request))
    return RewrappedOut(rewrapped=done.count, version=done.version, data_keys=DataKeysOut.of(done.data_keys),
                        log_index=done.log_index)
