"""A carrier reports a staff member to the industry blacklist: a step across accounts (who), identity (the
document's industry hash, kept at registration), the carrier's reporting key, the blacklist and the audit log.

HQ security or an admin names the staff member (an account of the carrier whose document is on file), a
reason from the fixed list and an evidence reference (a case id: no personal data). The report is signed and
sent; then the report and the blacklist's answer (listed, or no answer and why) are one entry of the carrier's
audit log, whichever it was: the carrier can always show what it reported about whom, and when.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from parcelguard.accounts import service as accounts
from parcelguard.audit import service as audit
from parcelguard.blacklist import protocol
from parcelguard.blacklist.service import BlacklistUnavailable, Industry, reporting_key
from parcelguard.core.auth import Actor, Role
from parcelguard.core.clock import now
from parcelguard.core.errors import Forbidden, Invalid, ServiceUnavailable
from parcelguard.crypto.keyring import Keyring
from parcelguard.identity import service as identity

REPORTERS = frozenset({Role.HQ_SECURITY, Role.ADMIN})
REPORTED, UNANSWERED = "blacklist_reported", "blacklist_report_unanswered"  # the audit entry's purpose


@dataclass(frozen=True)
class ReportOutcome:
    entry_id: uuid.UUID
    user_id: uuid.UUID
    reason_code: str
    evidence_ref: str
    reported_at: datetime
    status: str | None  # the blacklist's answer (`listed`); None when it gave none
    cause: str | None  # why it gave none
    log_index: int  # the carrier's audit log entry of the report and its answer


def report_staff(*, db_session: Session, keyring: Keyring, industry: Industry | None, actor: Actor,
                 user_id: uuid.UUID, reason_code: str, evidence_ref: str,
                 request_id: str | None = None) -> ReportOutcome:
    """Report a staff member; answers the outcome, which the audit log holds too (even when the blacklist did
    not answer). 403 `role_not_allowed`; 503 `blacklist_off`; 404 `user_unknown`; 422 `reason_code_unknown`,
    `evidence_ref_format`, `evidence_ref_personal`, `staff_document_missing`."""
    if actor.role not in REPORTERS or actor.carrier_id is None:
        raise Forbidden("HQ security or an admin reports to the industry blacklist.", code="role_not_allowed")
    if industry is None:
        raise ServiceUnavailable("The industry blacklist is not configured for this platform "
                                 "(PARCELGUARD_BLACKLIST_URL).", code="blacklist_off")
    try:
        protocol.check_reason(reason_code)
        protocol.check_evidence_ref(evidence_ref)
    except protocol.ProtocolError as exc:
        raise Invalid(exc.detail, code=exc.code, field=exc.pointer) from None
    accounts.get_user(db_session=db_session, carrier_id=actor.carrier_id, user_id=user_id)
    person = identity.staff_industry_index(db_session=db_session, carrier_id=actor.carrier_id, user_id=user_id)
    if person is None:
        raise Invalid("No document of this staff member is on file for the industry blacklist: register it "
                      "(PUT /api/v1/staff/{user_id}/document) while the blacklist is configured.",
                      code="staff_document_missing", field="/user_id")
    code, key_id, signer = reporting_key(db_session=db_session, keyring=keyring, carrier_id=actor.carrier_id)
    report = protocol.Report(carrier=code, key_id=key_id, entry_id=uuid.uuid4(), person=person,
                             reason_code=reason_code, evidence_ref=evidence_ref, reported_at=now())
    status: str | None = None
    cause: str | None = None
    try:
        status = industry.port.report(report.signed(signer.sign))["status"]
    except BlacklistUnavailable as exc:
        cause = exc.cause
    # One entry: who was reported, under which entry id, why, on what evidence, and what came back. At most
    # 195 characters (the subject holds 200).
    subject = (f"user:{user_id}|blacklist_entry:{report.entry_id}|reason:{reason_code}|evidence:{evidence_ref}")
    index = audit.log_event(db_session=db_session, keyring=keyring, carrier_id=actor.carrier_id, actor=actor,
                            subject=subject, purpose=REPORTED if status else UNANSWERED, request_id=request_id)
    return ReportOutcome(entry_id=report.entry_id, user_id=user_id, reason_code=reason_code,
                         evidence_ref=evidence_ref, reported_at=report.reported_at, status=status, cause=cause,
                         log_index=index)
