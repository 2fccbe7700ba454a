"""Routes for the prohibited and restricted items catalogue. Thin: parse, call, shape.

Carrier staff read their carrier's catalogue (the categories a terminal offers, the rules without their
keywords); anyone reads a carrier's by its slug (what a sender may not send); the carrier's admin reads
the full data, saves a new version or goes back to the shipped one; admin and HQ security read the
versions. Saves and resets are entries in the carrier's tamper-evident log (`catalogue_store`).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, Field

from parcelguard.core.auth import CARRIER_ROLES, Actor, Role, require
from parcelguard.core.db import SessionDep
from parcelguard.shipments import catalogue_store

router = APIRouter(tags=["catalogue"])
CarrierStaff = Annotated[Actor, require(*CARRIER_ROLES)]
Admin = Annotated[Actor, require(Role.ADMIN)]
HistoryReader = Annotated[Actor, require(*catalogue_store.HISTORY_READERS)]


class CategoryOut(BaseModel):
    code: str
    label_zh: str
    label_en: str


class RuleOut(BaseModel):
    id: str
    level: str = Field(description="`prohibited` (refused: `item_prohibited`) or `restricted` (needs an inspection).")
    label_zh: str
    label_en: str
    reason: str


class CatalogueOut(BaseModel):
    version: int = Field(description="The carrier's catalogue version; 0 when it never saved one.")
    shipped: bool = Field(description="True when this is the catalogue shipped with parcelguard.")
    categories: list[CategoryOut]
    rules: list[RuleOut]


class CatalogueDataOut(BaseModel):
    version: int = Field(description="Send it back with `PUT /catalogue` to refuse a lost update.")
    categories: list[dict[str, Any]]
    rules: list[dict[str, Any]]


class VersionOut(BaseModel):
    version: int
    shipped: bool = Field(description="A reset: the catalogue shipped with parcelguard applies.")
    saved_by: uuid.UUID | None
    saved_at: datetime
    sha256: str | None = Field(description="SHA-256 of the stored JSON, as the audit log entry records it.")


def _summary(found: catalogue_store.Current) -> CatalogueOut:
    c = found.catalogue
    return CatalogueOut(
        version=found.version, shipped=found.shipped,
        categories=[CategoryOut(code=x.code, label_zh=x.label_zh, label_en=x.label_en) for x in c.categories()],
        rules=[RuleOut(id=r.id, level=r.level, label_zh=r.label_zh, label_en=r.label_en, reason=r.reason)
               for r in c.rules],
    )


def _version_out(v: catalogue_store.Version) -> VersionOut:
    return VersionOut(version=v.version, shipped=v.shipped, saved_by=v.saved_by, saved_at=v.saved_at, sha256=v.sha256)


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


@router.get("/catalogue", response_model=CatalogueOut,
            summary="The carrier's item categories and prohibited and restricted items rules")
def get_catalogue(actor: CarrierStaff, db_session: SessionDep) -> CatalogueOut:
    """What a terminal offers as categories, and what intake refuses (`item_prohibited`) or takes only
    after an inspection (`inspection_required`). Keywords are not listed: `GET /catalogue/data` (admin)."""
    assert actor.carrier_id is not None
    return _summary(catalogue_store.current_version(db_session=db_session, carrier_id=actor.carrier_id))


@router.get("/public/carriers/{carrier}/catalogue", response_model=CatalogueOut,
            summary="What a sender may not send with this carrier, or only after an inspection (public)")
def public_catalogue(carrier: str, db_session: SessionDep) -> CatalogueOut:
    return _summary(catalogue_store.current_for_slug(db_session=db_session, carrier_slug=carrier))


@router.get("/catalogue/data", response_model=CatalogueDataOut,
            summary="The carrier's full catalogue, keywords included, as `PUT /catalogue` takes it")
def get_catalogue_data(actor: Admin, db_session: SessionDep) -> CatalogueDataOut:
    version, data = catalogue_store.current_data(db_session=db_session, actor=actor)
    return CatalogueDataOut(version=version, categories=data["categories"], rules=data["rules"])


@router.put("/catalogue", response_model=VersionOut,
            summary="Save the carrier's catalogue as a new version (checked first; logged)",
            responses={409: {"description": "`catalogue_conflict`: saved by someone else meanwhile"},
                       422: {"description": "`catalogue_invalid`: every error with its pointer; nothing saved"}})
def put_catalogue(body: Annotated[Any, Body(description="`{categories, rules}` in the shape of "
                                                       "`shipments/data/prohibited.toml`; optionally `version`, "
                                                       "the version the edit started from.")],
                  request: Request, actor: Admin, db_session: SessionDep) -> VersionOut:
    data, base_version = catalogue_store.parse_edit(body)
    return _version_out(catalogue_store.save(db_session=db_session, keyring=request.app.state.keyring, actor=actor,
                                             data=data, base_version=base_version, request_id=_request_id(request)))


@router.delete("/catalogue", response_model=VersionOut,
               summary="Back to the catalogue shipped with parcelguard, as a new version (logged)")
def reset_catalogue(request: Request, actor: Admin, db_session: SessionDep) -> VersionOut:
    return _version_out(catalogue_store.reset(db_session=db_session, keyring=request.app.state.keyring, actor=actor,
                                              request_id=_request_id(request)))


@router.get("/catalogue/versions", response_model=list[VersionOut],
            summary="The carrier's catalogue versions, newest first: who saved each and when")
def catalogue_versions(actor: HistoryReader, db_session: SessionDep,
                       limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[VersionOut]:
    return [_version_out(v) for v in catalogue_store.history(db_session=db_session, actor=actor, limit=limit)]
