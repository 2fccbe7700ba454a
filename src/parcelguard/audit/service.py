"""The personal-data gate (promise 3): the one function that returns plaintext of a personal field.

`reveal` checks the actor's role, the purpose they state and the scope of the subject against the
policy table, counts the reveal toward the actor's ceilings, and appends the decision to the carrier's
tamper-evident log *before* it opens a single ciphertext. A refusal is logged too, and kept even though
the request fails: the gate rolls back whatever the request did, appends the refusal, commits, and
then raises. If the append fails, the reveal fails. Knows nothing of HTTP.

A subject the actor may not see is answered as one that does not exist (`SubjectUnknown`), so a refusal
never tells whether a parcel exists; the log keeps the real reason. What does not depend on the subject
(role, purpose, fields, case) is decided before the subject is looked up, so that answer is the same for
a known subject and an unknown one.

Also here: the policy itself (data, editable by an admin), investigation cases, entries that are not
reveals (`log_event`), and raising alerts (reading them: `alerts`).
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, NoReturn

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from parcelguard.accounts import standing
from parcelguard.audit import log
from parcelguard.audit.alerts import acknowledge_alert, list_alerts  # noqa: F401  (callers say service.list_alerts)
from parcelguard.audit.models import Alert, Case, RevealCounter, RevealLimit, RevealPolicy
from parcelguard.core.auth import Actor, Role
from parcelguard.core.clock import now
from parcelguard.core.errors import Conflict, DomainError, FieldError, Forbidden, Invalid, NotFound
from parcelguard.crypto.keyring import Keyring
from parcelguard.incidents import opening
from parcelguard.shipments import honeytokens
from parcelguard.shipments import service as shipments

# Every personal field a subject may hold. Those that are sealed for the regulator are known here so
# a request for them is refused and logged, never answered.
REVEALABLE_FIELDS: tuple[str, ...] = shipments.PERSONAL_FIELDS
SEALED_FIELDS: tuple[str, ...] = ("sender_id_number", "sender_id_type")
PURPOSE = re.compile(r"^[a-z][a-z_]{1,63}$")
MAX_GRACE = timedelta(days=30)


class Scope(StrEnum):
    ASSIGNED = "assigned"  # an assignment of the task named by the purpose (pickup, delivery)
    STATION = "station"  # the shipment starts or ends at the actor's station
    CARRIER = "carrier"  # any shipment of the actor's carrier
    OWN_CUSTOMER = "own_customer"  # the actor's enterprise account shipped it


# The task an assignment must hold for a purpose under the assigned scope: a label is printed by the
# courier who picked the parcel up.
TASK_OF_PURPOSE: dict[str, str] = {"pickup": shipments.Task.PICKUP.value, "delivery": shipments.Task.DELIVERY.value,
                                   "label_print": shipments.Task.PICKUP.value}


class Period(StrEnum):
    HOUR = "hour"
    DAY = "day"


# Reason codes of a refusal, with the message the caller reads. None names the data.
REASONS = {
    "role_not_allowed": "Your role may not reveal personal data.",
    "terminal_required": "A courier reveals personal data only on a registered terminal: sign in with X-Terminal-Id.",
    "purpose_not_allowed": "This purpose does not let your role reveal personal data.",
    "field_not_allowed": "A requested field is not needed for this purpose.",
    "field_sealed": "Identity document numbers are sealed for the regulator and never revealed.",
    "case_required": "This purpose needs the id of an open investigation case.",
    "case_not_open": "The investigation case is unknown or closed.",
    "not_assigned": "This shipment is not assigned to you for this task.",
    "outside_window": "Your assignment on this shipment ended longer ago than the grace period.",
    "not_own_station": "This shipment does not pass through your station.",
    "not_own_shipment": "This shipment is not one of your own.",
    "subject_unknown": "There is no such subject.",
    "rate_exceeded": "You have reached your role's ceiling of reveals for this period; HQ security is alerted.",
    "obligations_missing": "No current confidentiality agreement and training (or organisation security clause) "
                           "is on record for your account; ask HQ security to record them.",
    "clause_scope": "Your organisation's security clause does not cover this purpose.",
    "data_destroyed": "This personal data was destroyed at the end of its retention period (保存期满销毁).",
}

# The reasons that say the actor may not see this subject. Each is logged as it is, for the auditor, and
# answered as `subject_unknown`, the answer for a subject that does not exist: telling them apart would
# tell the caller that the parcel exists (the existence oracle of issue 18).
SCOPE_REASONS = frozenset({"not_assigned", "outside_window", "not_own_station", "not_own_shipment"})


class RevealDenied(Forbidden):
    code = "reveal_denied"

    def __init__(self, reason: str, log_index: int) -> None:
        super().__init__(REASONS[reason], extensions={"reason": reason, "log_index": log_index})
        self.reason = reason
        self.log_index = log_index


class SubjectUnknown(NotFound):
    code = "subject_unknown"

    def __init__(self, log_index: int) -> None:
        super().__init__(REASONS["subject_unknown"], extensions={"reason": "subject_unknown", "log_index": log_index})
        self.reason = "subject_unknown"
        self.log_index = log_index


class DataDestroyed(DomainError):
    """The subject's data was shredded at the end of its retention: 410, logged like any refusal."""

    status = 410
    code = "data_destroyed"

    def __init__(self, log_index: int) -> None:
        super().__init__(REASONS["data_destroyed"], extensions={"reason": "data_destroyed", "log_index": log_index})
        self.reason = "data_destroyed"
        self.log_index = log_index


@dataclass(frozen=True)
class Revealed:
    subject: str
    purpose: str
    case_id: uuid.UUID | None
    fields: dict[str, str]
    log_index: int


@dataclass(frozen=True)
class GateOptions:
    head_every: int = 1000  # sign a tree head whenever the log passes a multiple of this


def reveal(
    db_session: Session, actor: Actor, subject: str, fields: Sequence[str], purpose: str,
    case_id: uuid.UUID | str | None = None, *, keyring: Keyring, request_id: str | None = None,
    options: GateOptions = GateOptions(),
) -> Revealed:
    """Return the plaintext of `fields` of `subject` if the policy allows `actor` to see them for
    `purpose`, after logging the decision. Raises `RevealDenied` (logged), `SubjectUnknown` (logged; for
    a subject that does not exist and for one out of the actor's scope alike), or `Invalid` for a
    malformed request (not a decision, so not logged)."""
    [revealed] = reveal_many(db_session, actor, [subject], fields, purpose, case_id, keyring=keyring,
                             request_id=request_id, options=options)
    return revealed


def reveal_many(
    db_session: Session, actor: Actor, subjects: Sequence[str], fields: Sequence[str], purpose: str,
    case_id: uuid.UUID | str | None = None, *, keyring: Keyring, request_id: str | None = None,
    options: GateOptions = GateOptions(),
) -> list[Revealed]:
    """`reveal` for many subjects at once (a batch of labels): all or nothing. What does not depend on
    a subject is decided first, once; then each subject in order, as `reveal` would; the first refusal
    refuses the whole request and is logged for its subject. When all are allowed, one log entry per
    subject is appended, each counts toward the actor's ceilings, and only then are the ciphertexts
    opened."""
    at = now()
    wanted = _check_fields(fields)
    _check_purpose(purpose)
    if isinstance(subjects, str) or not subjects:
        raise Invalid("Name at least one subject.", code="subjects_empty", field="/subjects")
    parsed = [parse_subject(subject) for subject in subjects]
    case = _parse_case_id(case_id)
    carrier_id = _gate_carrier(actor)
    records = [_record(actor, f"{kind}:{ident}", wanted, purpose, case, at, request_id) for kind, ident in parsed]
    rule = _admit(db_session, keyring, actor, records[0], wanted, purpose, case, options)
    targets = shipments.guarded_many(db_session=db_session, carrier_id=carrier_id,
                                     shipment_ids=list(dict.fromkeys(ident for _, ident in parsed)))
    for record, (_, ident) in zip(records, parsed, strict=True):
        target = targets.get(ident)
        reason = "subject_unknown" if target is None else _in_scope(db_session, actor, rule, target, purpose, at)
        if reason:
            _refuse(db_session, keyring, actor, record, reason, options)
    for record, (_, ident) in zip(records, parsed, strict=True):  # its keys shredded: nothing left to reveal
        if not all(keyring.can_open(db_session=db_session, carrier_id=carrier_id, ciphertext=targets[ident]
                                    .ciphertexts[name][0]) for name in wanted):
            _refuse(db_session, keyring, actor, record, "data_destroyed", options)
    exceeded = _count(db_session, actor, at, len(records))
    if exceeded:
        _refuse(db_session, keyring, actor, records[0], "rate_exceeded", options, alert=exceeded)
    appended = log.append(db_session=db_session, keyring=keyring, carrier_id=carrier_id,
                          entries=[{**record, "decision": "allow", "reason": None} for record in records],
                          head_every=options.head_every)
    trip_honeytokens(db_session=db_session, carrier_id=carrier_id, actor_id=actor.user_id, how=f"reveal:{purpose}",
                     touched={ident: appended.first_index + n for n, (_, ident) in enumerate(parsed)})
    # Logged: now, and only now, open the ciphertexts. This is the one place in the code base that does.
    out = []
    for n, (record, (_, ident)) in enumerate(zip(records, parsed, strict=True)):
        target = targets[ident]
        plaintext = {
            name: keyring.decrypt(db_session=db_session, carrier_id=carrier_id,
                                  ciphertext=target.ciphertexts[name][0], aad=target.ciphertexts[name][1]).decode()
            for name in wanted
        }
        out.append(Revealed(subject=record["subject"], purpose=purpose, case_id=case, fields=plaintext,
                            log_index=appended.first_index + n))
    return out


def refuse_unknown(
    db_session: Session, actor: Actor, reference: str, fields: Sequence[str], purpose: str,
    case_id: uuid.UUID | str | None = None, *, keyring: Keyring, request_id: str | None = None,
    options: GateOptions = GateOptions(),
) -> NoReturn:
    """For a flow whose reference (a label's subject, a waybill number) names no shipment of the carrier:
    refuse as `reveal` refuses a subject that does not exist, so the caller cannot tell the two apart: a
    reason that does not depend on the subject if the request has one, else `subject_unknown`. Logged,
    with `reference` as the subject (it must hold no personal data)."""
    at = now()
    wanted = _check_fields(fields)
    _check_purpose(purpose)
    case = _parse_case_id(case_id)
    _gate_carrier(actor)
    record = _record(actor, reference, wanted, purpose, case, at, request_id)
    _admit(db_session, keyring, actor, record, wanted, purpose, case, options)
    _refuse(db_session, keyring, actor, record, "subject_unknown", options)


def _check_purpose(purpose: str) -> None:
    if not PURPOSE.match(purpose):
        raise Invalid("A purpose is a lowercase word such as delivery or investigation.", code="purpose_format",
                      field="/purpose")


def _gate_carrier(actor: Actor) -> uuid.UUID:
    """The carrier whose log the decision goes to. An account outside a carrier is refused before any
    subject is looked up, and not logged (there is no log to write to)."""
    if actor.carrier_id is None:
        raise Forbidden(REASONS["role_not_allowed"], code="reveal_denied",
                        extensions={"reason": "role_not_allowed"})
    return actor.carrier_id


def _record(actor: Actor, subject: str, wanted: list[str], purpose: str, case: uuid.UUID | None, at: datetime,
            request_id: str | None) -> dict[str, Any]:
    return {"time": at.isoformat(), "actor": str(actor.user_id), "role": str(actor.role), "subject": subject,
            "fields": wanted, "purpose": purpose, "case_id": str(case) if case else None, "request_id": request_id}


def _admit(db_session: Session, keyring: Keyring, actor: Actor, record: dict[str, Any], wanted: list[str],
           purpose: str, case: uuid.UUID | None, options: GateOptions) -> Rule:
    """The rule that may grant the request, or a logged refusal for a reason that does not depend on the
    subject (decided before the subject is looked up, so a known and an unknown one get the same)."""
    rule, reason = _decide_request(db_session, actor, wanted, purpose, case)
    if rule is None:
        assert reason is not None
        _refuse(db_session, keyring, actor, record, reason, options)
    return rule


def parse_subject(subject: str) -> tuple[str, uuid.UUID]:
    """`shipment:<uuid>` (a bare uuid means a shipment)."""
    kind, _, ident = subject.rpartition(":")
    kind = kind or "shipment"
    try:
        if kind != "shipment":
            raise ValueError
        return kind, uuid.UUID(ident)
    except ValueError:
        raise Invalid("A subject is written shipment:<id>.", code="subject_format", field="/subject") from None


def _check_fields(fields: Sequence[str]) -> list[str]:
    if isinstance(fields, str) or not fields:
        raise Invalid("Name at least one field to reveal.", code="fields_empty", field="/fields")
    wanted: list[str] = []
    errors = []
    for i, name in enumerate(fields):
        if name not in REVEALABLE_FIELDS and name not in SEALED_FIELDS:
            errors.append(FieldError(pointer=f"/fields/{i}", code="field_unknown",
                                     detail=f"Known fields: {', '.join(REVEALABLE_FIELDS)}."))
        elif name not in wanted:
            wanted.append(name)
    if errors:
        raise Invalid("A requested field is unknown.", code="field_unknown", errors=errors)
    return wanted


def _parse_case_id(case_id: uuid.UUID | str | None) -> uuid.UUID | None:
    if case_id is None or isinstance(case_id, uuid.UUID):
        return case_id
    try:
        return uuid.UUID(case_id)
    except ValueError:
        raise Invalid("A case id is the id of an investigation case.", code="case_id_format",
                      field="/case_id") from None


def _decide_request(db_session: Session, actor: Actor, wanted: list[str], purpose: str, case: uuid.UUID | None
                    ) -> tuple[Rule | None, str | None]:
    """The rule for the request, or the reason to refuse it whatever the subject. Checked in this order,
    so the reason is the first rule the request breaks."""
    assert actor.carrier_id is not None
    if actor.role == Role.COURIER and actor.terminal_id is None:
        return None, "terminal_required"  # the terminal binding holds for every route that reveals
    rules = [r for r in effective_rules(db_session=db_session, carrier_id=actor.carrier_id) if r.role == actor.role]
    if not rules:
        return None, "role_not_allowed"
    # the staff member's confidentiality agreement, training and organisation's clause (issue 14)
    bound = standing.gate_reason(db_session=db_session, carrier_id=actor.carrier_id, user_id=actor.user_id,
                                 role=actor.role, purpose=purpose)
    if bound == "obligations_missing":
        return None, bound
    rule = next((r for r in rules if r.purpose == purpose), None)
    if rule is None:
        return None, "purpose_not_allowed"
    if bound is not None:
        return None, bound
    if any(name in SEALED_FIELDS for name in wanted):
        return None, "field_sealed"
    if not set(wanted) <= set(rule.fields):
        return None, "field_not_allowed"
    if rule.requires_case:
        if case is None:
            return None, "case_required"
        if not _case_open(db_session, actor.carrier_id, case):
            return None, "case_not_open"
    if rule.scope not in Scope._value2member_map_:
        return None, "role_not_allowed"  # a scope this version does not know grants nothing
    return rule, None


def _in_scope(db_session: Session, actor: Actor, rule: Rule, target: shipments.GuardedShipment, purpose: str,
              at: datetime) -> str | None:
    """The reason this actor may not see this subject under `rule` (one of `SCOPE_REASONS`), or None."""
    assert actor.carrier_id is not None
    match rule.scope:
        case Scope.ASSIGNED:
            windows = shipments.assignment_windows(db_session=db_session, carrier_id=actor.carrier_id,
                                                   shipment_id=target.id, courier_id=actor.user_id,
                                                   task=TASK_OF_PURPOSE.get(purpose, purpose))
            if not windows:
                return "not_assigned"
            grace = timedelta(seconds=rule.grace_seconds)
            if not any(opened <= at and (closed is None or at <= closed + grace) for opened, closed in windows):
                return "outside_window"
        case Scope.STATION:
            if actor.station_id is None or actor.station_id not in target.stations:
                return "not_own_station"
        case Scope.OWN_CUSTOMER:
            if target.customer_id != actor.user_id:
                return "not_own_shipment"
        case Scope.CARRIER:
            pass
    return None


def _case_open(db_session: Session, carrier_id: uuid.UUID, case_id: uuid.UUID) -> bool:
    return db_session.scalar(select(Case.id).where(Case.id == case_id, Case.carrier_id == carrier_id,
                                                   Case.closed_at.is_(None))) is not None


def _refuse(db_session: Session, keyring: Keyring, actor: Actor, record: dict[str, Any], reason: str,
            options: GateOptions, alert: dict[str, Any] | None = None) -> NoReturn:
    """Log a refusal durably and raise it. The request keeps nothing but the record of its refusal. A
    subject out of the actor's scope is logged with its reason and answered as an unknown one."""
    assert actor.carrier_id is not None
    db_session.rollback()
    appended = log.append(db_session=db_session, keyring=keyring, carrier_id=actor.carrier_id,
                          entries=[{**record, "decision": "deny", "reason": reason}], head_every=options.head_every)
    kind, _, ident = str(record["subject"]).partition(":")
    if kind == "shipment":  # a refused reveal of a decoy is as telling as a granted one
        with contextlib.suppress(ValueError):
            trip_honeytokens(db_session=db_session, carrier_id=actor.carrier_id, actor_id=actor.user_id,
                             how=f"refused:{record['purpose']}", touched={uuid.UUID(ident): appended.first_index})
    if alert is not None:
        raise_alert(db_session=db_session, carrier_id=actor.carrier_id, kind=reason, actor_id=actor.user_id,
                    dedupe_key=f"{reason}:{actor.user_id}:{alert['period']}:{alert['period_start']}",
                    detail={**alert, "role": str(actor.role)}, audit_index=appended.first_index)
    db_session.commit()
    if reason == "subject_unknown" or reason in SCOPE_REASONS:
        raise SubjectUnknown(appended.first_index)
    if reason == "data_destroyed":
        raise DataDestroyed(appended.first_index)
    raise RevealDenied(reason, appended.first_index)


# -- rate ceilings --------------------------------------------------------------------------------

def period_start(at: datetime, period: Period) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0) if period == Period.HOUR else at.replace(
        hour=0, minute=0, second=0, microsecond=0)


def _count(db_session: Session, actor: Actor, at: datetime, n: int = 1) -> dict[str, Any] | None:
    """Count these `n` reveals in the actor's hour and day; what the ceiling says if one is now passed."""
    assert actor.carrier_id is not None
    limits = {limit.period: limit for limit in effective_limits(db_session=db_session, carrier_id=actor.carrier_id)
              if limit.role == actor.role}
    insert = postgresql.insert if db_session.get_bind().dialect.name == "postgresql" else sqlite.insert
    exceeded = None
    for period in Period:
        start = period_start(at, period)
        statement = insert(RevealCounter).values(actor_id=actor.user_id, period=period.value, period_start=start,
                                                 carrier_id=actor.carrier_id, count=n)
        count = db_session.execute(
            statement.on_conflict_do_update(index_elements=["actor_id", "period", "period_start"],
                                            set_={"count": RevealCounter.count + n})
            .returning(RevealCounter.count)
        ).scalar_one()
        limit = limits.get(period.value)
        if limit is None or exceeded:
            continue
        ceiling = limit.base
        if limit.per_assignment:
            ceiling += limit.per_assignment * shipments.assigned_count(
                db_session=db_session, carrier_id=actor.carrier_id, courier_id=actor.user_id, since=start)
        if count > ceiling:
            exceeded = {"period": period.value, "period_start": start.isoformat(), "ceiling": ceiling,
                        "count": count - n}
    return exceeded


def counters(*, db_session: Session, carrier_id: uuid.UUID, actor_id: uuid.UUID, at: datetime | None = None
             ) -> dict[str, int]:
    """The actor's granted reveals in the current hour and day."""
    at = at or now()
    out = {}
    for period in Period:
        out[period.value] = int(db_session.scalar(select(RevealCounter.count).where(
            RevealCounter.actor_id == actor_id, RevealCounter.carrier_id == carrier_id,
            RevealCounter.period == period.value, RevealCounter.period_start == period_start(at, period))) or 0)
    return out


# -- the policy -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    role: str
    purpose: str
    scope: str
    fields: list[str]
    requires_case: bool = False
    grace_seconds: int = 0


@dataclass(frozen=True)
class Limit:
    role: str
    period: str
    base: int
    per_assignment: int = 0


@dataclass(frozen=True)
class Policy:
    source: str  # "default" (the platform's seeded rows) or "carrier" (the carrier's own set)
    rules: list[Rule]
    limits: list[Limit]


def _rule(row: RevealPolicy) -> Rule:
    return Rule(role=row.role, purpose=row.purpose, scope=row.scope, fields=list(row.fields),
                requires_case=row.requires_case, grace_seconds=row.grace_seconds)


def _limit(row: RevealLimit) -> Limit:
    return Limit(role=row.role, period=row.period, base=row.base, per_assignment=row.per_assignment)


def effective_rules(*, db_session: Session, carrier_id: uuid.UUID) -> list[Rule]:
    return _effective(db_session, RevealPolicy, carrier_id, _rule)[1]


def effective_limits(*, db_session: Session, carrier_id: uuid.UUID) -> list[Limit]:
    """The carrier's own ceilings, or the defaults when it set none (rules and limits fall back apart)."""
    return _effective(db_session, RevealLimit, carrier_id, _limit)[1]


def _effective(db_session: Session, table: Any, carrier_id: uuid.UUID, shape: Any) -> tuple[str, list[Any]]:
    rows = list(db_session.scalars(select(table).where(table.carrier_id == carrier_id)))
    if rows:
        return "carrier", [shape(r) for r in rows]
    return "default", [shape(r) for r in db_session.scalars(select(table).where(table.carrier_id.is_(None)))]


def policy(*, db_session: Session, carrier_id: uuid.UUID) -> Policy:
    source, rules = _effective(db_session, RevealPolicy, carrier_id, _rule)
    return Policy(source=source, rules=rules, limits=effective_limits(db_session=db_session, carrier_id=carrier_id))


# Which roles may hold which scope. Auditors and the regulator never see plaintext; admins set policy.
_SCOPES_BY_ROLE = {
    Role.COURIER: {Scope.ASSIGNED},
    Role.STATION_MANAGER: {Scope.STATION, Scope.CARRIER},
    Role.HQ_SECURITY: {Scope.CARRIER},
    Role.ENTERPRISE: {Scope.OWN_CUSTOMER},
    Role.TELEPHONY: {Scope.CARRIER},  # the provider's service account; privacy_numbers checks the binding
}


# Roles that work on a handheld terminal, which keeps nothing (promise 1).
_TERMINAL_ROLES = {Role.COURIER}


def replace_policy(*, db_session: Session, keyring: Keyring, actor: Actor, rules: Sequence[Rule],
                   limits: Sequence[Limit], request_id: str | None = None) -> Policy:
    """Replace the carrier's policy with `rules` and `limits`. The change is itself an entry in the
    tamper-evident log."""
    carrier_id = _carrier(actor)
    _validate_policy(rules, limits)
    db_session.execute(delete(RevealPolicy).where(RevealPolicy.carrier_id == carrier_id))
    db_session.execute(delete(RevealLimit).where(RevealLimit.carrier_id == carrier_id))
    db_session.add_all(RevealPolicy(carrier_id=carrier_id, role=r.role, purpose=r.purpose, scope=r.scope,
                                    fields=list(r.fields), requires_case=r.requires_case,
                                    grace_seconds=r.grace_seconds) for r in rules)
    db_session.add_all(RevealLimit(carrier_id=carrier_id, role=lim.role, period=lim.period, base=lim.base,
                                   per_assignment=lim.per_assignment) for lim in limits)
    db_session.flush()
    log_admin_change(db_session=db_session, keyring=keyring, actor=actor, subject="policy:reveal",
                     purpose="policy_change", request_id=request_id)
    return policy(db_session=db_session, carrier_id=carrier_id)


def reset_policy(*, db_session: Session, keyring: Keyring, actor: Actor, request_id: str | None = None) -> Policy:
    """Drop the carrier's own policy: the platform defaults apply again. Logged."""
    carrier_id = _carrier(actor)
    db_session.execute(delete(RevealPolicy).where(RevealPolicy.carrier_id == carrier_id))
    db_session.execute(delete(RevealLimit).where(RevealLimit.carrier_id == carrier_id))
    log_admin_change(db_session=db_session, keyring=keyring, actor=actor, subject="policy:reveal",
                     purpose="policy_reset", request_id=request_id)
    return policy(db_session=db_session, carrier_id=carrier_id)


def _validate_policy(rules: Sequence[Rule], limits: Sequence[Limit]) -> None:
    errors: list[FieldError] = []
    if not rules:
        # An empty set would fall back to the defaults, the opposite of what it looks like.
        errors.append(FieldError("/rules", "rules_empty", "A carrier's policy has at least one rule."))
    seen: set[tuple[str, str]] = set()
    for i, rule in enumerate(rules):
        at = f"/rules/{i}"
        role = Role(rule.role) if rule.role in Role._value2member_map_ else None
        if role not in _SCOPES_BY_ROLE:
            errors.append(FieldError(f"{at}/role", "role_cannot_reveal",
                                     f"Roles that may be granted reveals: {', '.join(_SCOPES_BY_ROLE)}."))
        elif rule.scope not in _SCOPES_BY_ROLE[role]:
            errors.append(FieldError(f"{at}/scope", "scope_not_for_role",
                                     f"A {role} may hold the scopes {', '.join(sorted(_SCOPES_BY_ROLE[role]))}."))
        if not PURPOSE.match(rule.purpose):
            errors.append(FieldError(f"{at}/purpose", "purpose_format", "A purpose is a lowercase word."))
        if role in _TERMINAL_ROLES and any(name.endswith("_phone") for name in rule.fields):
            errors.append(FieldError(f"{at}/fields", "phone_not_for_terminal",
                                     "A courier's terminal never receives a phone number: it calls a virtual number."))
        if rule.scope == Scope.ASSIGNED and rule.purpose not in TASK_OF_PURPOSE:
            errors.append(FieldError(f"{at}/purpose", "purpose_not_a_task",
                                     "The assigned scope needs a purpose done under a task: "
                                     f"{', '.join(TASK_OF_PURPOSE)}."))
        if (rule.role, rule.purpose) in seen:
            errors.append(FieldError(f"{at}/purpose", "duplicate_rule", "One rule per role and purpose."))
        seen.add((rule.role, rule.purpose))
        if not rule.fields:
            errors.append(FieldError(f"{at}/fields", "fields_empty", "A rule grants at least one field."))
        for j, name in enumerate(rule.fields):
            if name in SEALED_FIELDS:
                errors.append(FieldError(f"{at}/fields/{j}", "field_sealed", REASONS["field_sealed"]))
            elif name not in REVEALABLE_FIELDS:
                errors.append(FieldError(f"{at}/fields/{j}", "field_unknown",
                                         f"Known fields: {', '.join(REVEALABLE_FIELDS)}."))
        if not 0 <= rule.grace_seconds <= MAX_GRACE.total_seconds():
            errors.append(FieldError(f"{at}/grace_seconds", "grace_out_of_range",
                                     f"A grace period is 0 to {int(MAX_GRACE.total_seconds())} seconds."))
    periods: set[tuple[str, str]] = set()
    for i, lim in enumerate(limits):
        at = f"/limits/{i}"
        if lim.role not in Role._value2member_map_:
            errors.append(FieldError(f"{at}/role", "role_unknown", "No such role."))
        if lim.period not in Period._value2member_map_:
            errors.append(FieldError(f"{at}/period", "period_unknown", "A period is hour or day."))
        if (lim.role, lim.period) in periods:
            errors.append(FieldError(f"{at}/period", "duplicate_limit", "One limit per role and period."))
        periods.add((lim.role, lim.period))
        if lim.base < 0 or lim.per_assignment < 0:
            errors.append(FieldError(f"{at}/base", "limit_negative", "Ceilings are not negative."))
    if errors:
        raise Invalid("The policy has invalid rules.", code="policy_invalid", errors=errors)


def log_admin_change(*, db_session: Session, keyring: Keyring, actor: Actor, subject: str, purpose: str,
                     request_id: str | None) -> int:
    """An admin's change to what governs the carrier (the reveal policy, a setting, the catalogue, its keys), as
    an entry of the tamper-evident log: `subject` names what changed, `purpose` how. No personal data. Answers
    the entry's index."""
    assert actor.carrier_id is not None
    return log_event(db_session=db_session, keyring=keyring, carrier_id=actor.carrier_id, actor=actor,
                     subject=subject, purpose=purpose, request_id=request_id)


COMMAND_LINE = "command_line"  # the `role` of an entry an operator's command wrote: it has no account


def log_event(*, db_session: Session, keyring: Keyring, carrier_id: uuid.UUID, actor: Actor | None, subject: str,
              purpose: str, request_id: str | None = None) -> int:
    """An entry that is not a reveal (a change, an export of the log) in `carrier_id`'s log, by `actor`, or by
    the command line when None. Answers the entry's index."""
    return log.append(db_session=db_session, keyring=keyring, carrier_id=carrier_id, entries=[{
        "time": now().isoformat(), "actor": str(actor.user_id) if actor else None,
        "role": str(actor.role) if actor else COMMAND_LINE, "subject": subject, "fields": [], "purpose": purpose,
        "case_id": None, "decision": "allow", "reason": None, "request_id": request_id}]).first_index


# -- investigation cases --------------------------------------------------------------------------

REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")


def open_case(*, db_session: Session, actor: Actor, reference: str, summary: str) -> Case:
    """Open an investigation. The summary says what is investigated, not about whom: no personal data."""
    carrier_id = _carrier(actor)
    if not REFERENCE.match(reference):
        raise Invalid("A case reference is 1-64 letters, digits, dots, dashes, slashes or underscores.",
                      code="reference_format", field="/reference")
    if not 0 < len(summary.strip()) <= 500:
        raise Invalid("A summary holds 1 to 500 characters.", code="summary_length", field="/summary")
    if db_session.scalar(select(Case.id).where(Case.carrier_id == carrier_id, Case.reference == reference)):
        raise Conflict("A case with this reference exists.", code="case_reference_taken", field="/reference")
    case = Case(carrier_id=carrier_id, reference=reference, summary=summary.strip(), opened_by=actor.user_id)
    db_session.add(case)
    db_session.flush()
    return case


def close_case(*, db_session: Session, actor: Actor, case_id: uuid.UUID) -> Case:
    case = _case(db_session, actor, case_id)
    if case.closed_at is None:
        case.closed_at = now()
        case.closed_by = actor.user_id
        db_session.flush()
    return case


def list_cases(*, db_session: Session, actor: Actor, open_only: bool = False) -> list[Case]:
    query = select(Case).where(Case.carrier_id == _carrier(actor))
    if open_only:
        query = query.where(Case.closed_at.is_(None))
    return list(db_session.scalars(query.order_by(Case.opened_at.desc())))


def _case(db_session: Session, actor: Actor, case_id: uuid.UUID) -> Case:
    case = db_session.scalar(select(Case).where(Case.id == case_id, Case.carrier_id == _carrier(actor)))
    if case is None:
        raise NotFound("No such case.", code="case_unknown")
    return case


# -- tree heads on a timer -----------------------------------------------------------------------

def sign_due_heads(*, db_session: Session, keyring: Keyring) -> int:
    """Sign every log with unsigned entries (the server calls this every `audit_head_seconds`). A log
    whose stored tree disagrees with its last signed head is not signed: HQ security gets an alert."""
    signed, failed = log.sign_due_heads(db_session=db_session, keyring=keyring)
    for carrier_id, reason in failed:
        raise_alert(db_session=db_session, carrier_id=carrier_id, kind="audit_log_inconsistent",
                    dedupe_key=f"audit_log_inconsistent:{now().date().isoformat()}",
                    detail={"reason": reason, "action": "run `parcelguard audit verify`"})
    return signed


# -- alerts ---------------------------------------------------------------------------------------

def raise_alert(*, db_session: Session, carrier_id: uuid.UUID, kind: str, dedupe_key: str,
                detail: dict[str, Any], actor_id: uuid.UUID | None = None,
                audit_index: int | None = None) -> uuid.UUID | None:
    """Raise an alert once per `dedupe_key`; raising it again is a no-op. `detail` holds no personal data.
    Answers the new alert's id, None when it was raised before."""
    insert = postgresql.insert if db_session.get_bind().dialect.name == "postgresql" else sqlite.insert
    return db_session.execute(insert(Alert).values(
        id=uuid.uuid4(), carrier_id=carrier_id, kind=kind, dedupe_key=dedupe_key, actor_id=actor_id, raised_at=now(),
        detail=detail, audit_index=audit_index,
    ).on_conflict_do_nothing(index_elements=["carrier_id", "dedupe_key"]).returning(Alert.id)).scalar_one_or_none()


def trip_honeytokens(*, db_session: Session, carrier_id: uuid.UUID, actor_id: uuid.UUID | None, how: str,
                     touched: dict[uuid.UUID, int | None], client: str | None = None) -> int:
    """Raise the alert `honeytoken` for each decoy among the shipments `touched` (with the log index of the
    touch, when there is one): once per decoy and actor (or public client) and way it was touched, and open
    an incident of it at once (`incidents.opening`). Answers how many decoys were touched."""
    decoys = honeytokens.among(db_session=db_session, carrier_id=carrier_id, shipment_ids=touched)
    who = str(actor_id) if actor_id else f"client:{client}"
    for shipment_id in sorted(decoys):
        alert_id = raise_alert(
            db_session=db_session, carrier_id=carrier_id, kind=honeytokens.ALERT, actor_id=actor_id,
            dedupe_key=f"{honeytokens.ALERT}:{shipment_id}:{who}:{how}", audit_index=touched[shipment_id],
            detail={"shipment_id": str(shipment_id), "how": how, **({"client": client} if client else {})})
        if alert_id is not None:
            opening.open_for_honeytoken(db_session=db_session, carrier_id=carrier_id, alert_id=alert_id,
                                        actor_id=actor_id)
    return len(decoys)


def alerted(*, db_session: Session, dedupe_key: str, carrier_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these carriers already hold the alert `dedupe_key` (a read: callers skip a write)."""
    if not carrier_ids:
        return set()
    return set(db_session.scalars(select(Alert.carrier_id).where(Alert.dedupe_key == dedupe_key,
                                                                 Alert.carrier_id.in_(carrier_ids))))


def _carrier(actor: Actor) -> uuid.UUID:
    if actor.carrier_id is None:
        raise NotFound("There is nothing here for an account outside a carrier.", code="carrier_unknown")
    return actor.carrier_id
