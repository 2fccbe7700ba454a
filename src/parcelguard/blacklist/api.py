"""The carrier's route to the industry blacklist: HQ security or an admin reports a staff member. Thin:
`flows.report_staff` does the work; the blacklist as the app's settings configure it (`client.configured`).
Included in the carrier app's `/api/v1`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from starlette.responses import Response

from parcelguard.blacklist import client, flows
from parcelguard.blacklist.schemas import ReportIn, ReportOut
from parcelguard.core import errors
from parcelguard.core.auth import Actor, Role, require
from parcelguard.core.db import SessionDep

router = APIRouter(tags=["industry blacklist"])
Reporter = Annotated[Actor, require(Role.HQ_SECURITY, Role.ADMIN)]


@router.post("/blacklist/reports", response_model=ReportOut, status_code=201,
             summary="Report a staff member to the industry blacklist (HQ security, admin); logged with the answer",
             responses={404: {"description": "user_unknown"},
                        422: {"description": "staff_document_missing, evidence_ref_format, evidence_ref_personal"},
                        503: {"description": "blacklist_off; blacklist_unreachable (with `cause`, `entry_id` and "
                                             "`log_index`: the attempt is in the audit log)"}})
def report_staff(body: ReportIn, request: Request, actor: Reporter, db_session: SessionDep) -> ReportOut | Response:
    """The blacklist stores a keyed hash of the staff member's document (never the number), the reason, the
    evidence reference and this carrier's signature. Other carriers learn only that the person is listed."""
    request_id = getattr(request.state, "request_id", None)
    outcome = flows.report_staff(db_session=db_session, keyring=request.app.state.keyring,
                                 industry=client.configured(request.app.state.settings), actor=actor,
                                 user_id=body.user_id, reason_code=body.reason_code.value,
                                 evidence_ref=body.evidence_ref, request_id=request_id)
    if outcome.status is None:  # answered as a problem, but committed: the attempt stays in the audit log
        return errors.problem(503, "blacklist_unreachable", "The industry blacklist did not take the report; the "
                              "attempt is in the audit log. Report again later.",
                              instance=errors.instance_of(request_id),
                              extensions={"cause": outcome.cause, "entry_id": str(outcome.entry_id),
                                          "log_index": outcome.log_index})
    return ReportOut(entry_id=outcome.entry_id, user_id=outcome.user_id, reason_code=outcome.reason_code,
                     evidence_ref=outcome.evidence_ref, reported_at=outcome.reported_at,
                     status=outcome.status, log_index=outcome.log_index)  # type: ignore[arg-type]
