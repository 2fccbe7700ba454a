"""Routes for the carrier's label settings: the masking policy and the sorting-code table. Thin: parse,
call, shape.

The admin, HQ security and station managers read them; only the admin replaces them, with the whole
document (`PUT`, what `GET` answers, edited). A refused `PUT` writes nothing; every save is an entry in
the carrier's tamper-evident log (`settings_store`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request

from parcelguard.core.auth import Actor, Role, require
from parcelguard.core.db import SessionDep
from parcelguard.waybills import policy, settings_store
from parcelguard.waybills.policy import LabelSettings

router = APIRouter(prefix="/carrier", tags=["labels"])
Reader = Annotated[Actor, require(*settings_store.READERS)]
Admin = Annotated[Actor, require(Role.ADMIN)]

# The body is parsed by `policy.parse_settings` (so that every error has its own pointer and code); its
# schema is `LabelSettings`, which the GET's response puts among the OpenAPI components.
_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/LabelSettings"}}}}}


@router.get("/waybill-settings", response_model=LabelSettings,
            summary="The carrier's label settings: masking policy and sorting-code table (三段码)")
def get_waybill_settings(actor: Reader, db_session: SessionDep) -> LabelSettings:
    """The defaults (strictest masking, no sorting rule) until the admin saves settings."""
    assert actor.carrier_id is not None
    return settings_store.current(db_session=db_session, carrier_id=actor.carrier_id)


@router.put("/waybill-settings", response_model=LabelSettings, openapi_extra=_BODY,
            summary="Replace the carrier's label settings (admin; checked first; logged)",
            responses={422: {"description": "`waybill_settings_invalid`: every error with its pointer; "
                                             "nothing saved"}})
def put_waybill_settings(body: Annotated[Any, Body()], request: Request, actor: Admin,
                         db_session: SessionDep) -> LabelSettings:
    """The whole document, as `GET` answers it: fields left out take their defaults. Takes effect on the
    next label printed."""
    settings = policy.parse_settings(body)
    return settings_store.save(db_session=db_session, keyring=request.app.state.keyring, actor=actor,
                               settings=settings, request_id=getattr(request.state, "request_id", None))
