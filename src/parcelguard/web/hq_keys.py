"""The carrier's keys in the HQ console (/hq/keys): the key-encryption key versions and how many data keys each
wraps, how far re-wrapping has come, the blind-index and signing keys; HQ security rotates the key-encryption key
(after ticking a confirmation) and re-wraps data keys batch by batch. Each action shows the audit-log entry that
records it, linked to that entry's check. An auditor reads the page and nothing more, as the API lets them.

The page calls `keys.service`, as `GET /api/v1/keys`, `POST /api/v1/keys:rotate` and `POST /api/v1/keys:rewrap`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from parcelguard.core.auth import Actor, Role
from parcelguard.core.db import SessionDep
from parcelguard.core.errors import DomainError
from parcelguard.keys import service as keys
from parcelguard.web import session
from parcelguard.web.courier_pages import message_of, translator_of
from parcelguard.web.templating import render

router = APIRouter(include_in_schema=False)
HqPage = Annotated[Actor | None, Depends(session.hq)]
LOGIN = "/hq/login"
DONE = frozenset({"rotated", "rewrapped", "nothing"})


def _keeper(actor: Actor | None) -> bool:
    return actor is not None and actor.role in keys.KEEPERS


def _page(request: Request, db_session: Session, actor: Actor, *, notice: str | None = None,
          entry: int | None = None, errors: dict[str, str] | None = None, batch: int = keys.DEFAULT_BATCH,
          status_code: int = 200) -> HTMLResponse:
    return render(request, "hq_keys.html", {
        "keys": keys.overview(db_session=db_session, actor=actor), "keeper": _keeper(actor),
        "officer": actor.role == Role.HQ_SECURITY, "notice": notice, "entry": entry, "errors": errors or {},
        "batch": batch, "max_batch": keys.MAX_BATCH, "csrf": session.csrf_token(request)}, status_code=status_code)


@router.get("/hq/keys", response_class=HTMLResponse)
def keys_page(request: Request, actor: HqPage, db_session: SessionDep, done: str = "", entry: int = -1,
              v: int = 0, n: int = 0, batch: int = keys.DEFAULT_BATCH) -> Response:
    if actor is None:
        return session.to_sign_in(request, LOGIN)
    notice = None
    if done in DONE:
        notice = translator_of(request)(f"hq.keys.done.{done}", version=max(0, v), n=max(0, n))
    return _page(request, db_session, actor, notice=notice, entry=entry if done in DONE and entry >= 0 else None,
                 batch=min(max(1, batch), keys.MAX_BATCH))


@router.post("/hq/keys/rotate", response_class=HTMLResponse)
def rotate(request: Request, actor: HqPage, db_session: SessionDep, csrf: Annotated[str, Form(max_length=128)] = "",
           confirm: Annotated[str, Form(max_length=8)] = "") -> Response:
    """`keys.service.rotate`, as `POST /api/v1/keys:rotate`, once the officer ticked the confirmation."""
    if not _keeper(actor) or not session.csrf_ok(request, csrf):
        return session.to_sign_in(request, LOGIN)
    assert actor is not None
    t = translator_of(request)
    if confirm != "on":
        return _page(request, db_session, actor, errors={"confirm": t("hq.keys.confirm_required")}, status_code=422)
    try:
        done = keys.rotate(db_session=db_session, keyring=request.app.state.keyring, actor=actor,
                           request_id=getattr(request.state, "request_id", None))
    except DomainError as exc:
        db_session.rollback()
        return _page(request, db_session, actor, errors={"confirm": message_of(request, exc)}, status_code=exc.status)
    return RedirectResponse(f"/hq/keys?done=rotated&v={done.version}&entry={done.log_index}", status_code=303)


@router.post("/hq/keys/rewrap", response_class=HTMLResponse)
def rewrap(request: Request, actor: HqPage, db_session: SessionDep, csrf: Annotated[str, Form(max_length=128)] = "",
           batch: Annotated[str, Form(max_length=8)] = "") -> Response:
    """`keys.service.rewrap`, as `POST /api/v1/keys:rewrap`: the next batch of data keys."""
    if not _keeper(actor) or not session.csrf_ok(request, csrf):
        return session.to_sign_in(request, LOGIN)
    assert actor is not None
    size = int(batch) if batch.strip().isdigit() else 0
    if not 1 <= size <= keys.MAX_BATCH:
        return _page(request, db_session, actor, status_code=422, errors={
            "batch": translator_of(request)("hq.keys.batch_range", max=keys.MAX_BATCH)})
    done = keys.rewrap(db_session=db_session, keyring=request.app.state.keyring, actor=actor, limit=size,
                       request_id=getattr(request.state, "request_id", None))
    if done.log_index is None:
        return RedirectResponse(f"/hq/keys?done=nothing&batch={size}", status_code=303)
    return RedirectResponse(f"/hq/keys?done=rewrapped&n={done.count}&v={done.version}&entry={done.log_index}"
                            f"&batch={size}", status_code=303)
