"""Routes for the gate (`POST /reveals`), the log's heads, entries, proofs and export, cases, policy and
alerts. Thin: parse, call the service, shape. Couriers reach the gate and nothing else here."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import StreamingResponse

from parcelguard.accounts import service as accounts
from parcelguard.audit import alerts, export, log, proofs, service
from parcelguard.audit.schemas import (
    AlertOut,
    CaseIn,
    CaseOut,
    ConsistencyProofOut,
    EntriesPage,
    EntryOut,
    InclusionProofOut,
    LimitDoc,
    PolicyIn,
    PolicyOut,
    PublicKeysOut,
    RevealIn,
    RevealOut,
    RuleDoc,
    TreeHeadOut,
)
from parcelguard.core import db
from parcelguard.core.auth import CARRIER_ROLES, Actor, Role, require
from parcelguard.core.clock import now
from parcelguard.core.db import SessionDep
from parcelguard.core.errors import Invalid, NotFound
from parcelguard.crypto.keyring import Keyring

router = APIRouter()
CarrierStaff = Annotated[Actor, require(*CARRIER_ROLES)]
LogReader = Annotated[Actor, require(Role.AUDITOR, Role.HQ_SECURITY, Role.REGULATOR)]
Security = Annotated[Actor, require(Role.HQ_SECURITY)]
AlertReader = Annotated[Actor, require(Role.HQ_SECURITY, Role.STATION_MANAGER)]
PolicyReader = Annotated[Actor, require(Role.ADMIN, Role.HQ_SECURITY, Role.AUDITOR)]
Admin = Annotated[Actor, require(Role.ADMIN)]
CarrierQuery = Annotated[str | None, Query(max_length=32, description="Carrier slug; the regulator names one.")]
MAX_PAGE = 1000
# Far beyond any log, and within a 64-bit integer column with room for `+ 1` (PostgreSQL's bigint).
MAX_INDEX = 2**62
LogIndex = Annotated[int, Path(ge=0, le=MAX_INDEX, description="A 0-based index into the log.")]


def _keyring(request: Request) -> Keyring:
    return request.app.state.keyring


def _options(request: Request) -> service.GateOptions:
    return service.GateOptions(head_every=request.app.state.settings.audit_head_every)


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def _log_of(db_session: SessionDep, actor: Actor, carrier: str | None) -> uuid.UUID:
    """Whose log: the actor's own carrier, or for the regulator the carrier it names. A carrier's staff
    naming another carrier gets 404, as for any other carrier's object."""
    if actor.role == Role.REGULATOR:
        if carrier is None:
            raise Invalid("Name the carrier whose log to read.", code="carrier_required", field="#query/carrier")
        found = accounts.get_carrier_by_slug(db_session=db_session, slug=carrier)
        if found is None:
            raise NotFound("No such carrier.", code="carrier_unknown")
        return found.id
    assert actor.carrier_id is not None
    if carrier is not None:
        own = accounts.get_carrier(db_session=db_session, carrier_id=actor.carrier_id)
        if own.slug != carrier:
            raise NotFound("No such carrier.", code="carrier_unknown")
    return actor.carrier_id


# -- the gate -------------------------------------------------------------------------------------

@router.post("/reveals", response_model=RevealOut, tags=["gate"],
             summary="Reveal personal fields of a subject for a stated purpose (logged before answering)",
             responses={403: {"description": "Refused (`reveal_denied`, with `reason` and `log_index`)"},
                        410: {"description": "`data_destroyed`: the subject's data was shredded at the end of its "
                                             "retention (logged, with `log_index`)"}})
def reveal(body: RevealIn, request: Request, actor: CarrierStaff, db_session: SessionDep) -> RevealOut:
    """Every decision, allowed or refused, is appended to the carrier's tamper-evident log first.
    A refusal answers 403 problem+json with code `reveal_denied`, a `reason` (`role_not_allowed`,
    `purpose_not_allowed`, `field_not_allowed`, `case_required`, `rate_exceeded`, ...) and the
    `log_index` of the refusal. A subject the caller may not see (not assigned, outside the window,
    another station's or customer's) answers exactly as one that does not exist: 404
    `subject_unknown`, reason `subject_unknown`, with its `log_index`; the log keeps the real reason."""
    revealed = service.reveal(db_session, actor, body.subject, body.fields, body.purpose, body.case_id,
                              keyring=_keyring(request), request_id=_request_id(request), options=_options(request))
    return RevealOut(subject=revealed.subject, purpose=revealed.purpose, case_id=revealed.case_id,
                     fields=revealed.fields, log_index=revealed.log_index)


# -- the log --------------------------------------------------------------------------------------

def _head_out(head: object) -> TreeHeadOut:
    return TreeHeadOut(**log.tree_head_document(head))  # type: ignore[arg-type]


@router.get("/audit/tree-heads/latest", response_model=TreeHeadOut, tags=["audit"],
            summary="The newest signed tree head of the carrier's log")
def latest_tree_head(actor: LogReader, db_session: SessionDep, carrier: CarrierQuery = None) -> TreeHeadOut:
    return _head_out(log.latest_tree_head(db_session=db_session, carrier_id=_log_of(db_session, actor, carrier)))


@router.post("/audit/tree-heads", response_model=TreeHeadOut, status_code=201, tags=["audit"],
             summary="Sign a tree head for the log as it stands now")
def sign_tree_head(request: Request, actor: LogReader, db_session: SessionDep,
                   carrier: CarrierQuery = None) -> TreeHeadOut:
    return _head_out(log.sign_tree_head(db_session=db_session, keyring=_keyring(request),
                                        carrier_id=_log_of(db_session, actor, carrier)))


@router.get("/audit/public-keys", response_model=PublicKeysOut, tags=["audit"],
            summary="The Ed25519 keys tree heads are signed with (compare with the keys the carrier registered)")
def public_keys(request: Request, actor: LogReader, db_session: SessionDep,
                carrier: CarrierQuery = None) -> PublicKeysOut:
    keys = _keyring(request).public_keys(db_session=db_session, carrier_id=_log_of(db_session, actor, carrier),
                                         purpose=log.LOG_KEY_PURPOSE)
    return PublicKeysOut(keys={str(k): v.hex() for k, v in keys.items()})


@router.get("/audit/entries", response_model=EntriesPage, tags=["audit"], summary="Search the log (paged)")
def list_entries(
    actor: LogReader, db_session: SessionDep, carrier: CarrierQuery = None,
    actor_id: Annotated[uuid.UUID | None, Query(alias="actor")] = None,
    subject: Annotated[str | None, Query(max_length=200)] = None,
    purpose: Annotated[str | None, Query(max_length=64)] = None,
    decision: Annotated[str | None, Query(pattern="^(allow|deny)$")] = None,
    since: datetime | None = None, until: datetime | None = None,
    after: Annotated[int | None, Query(ge=-1, le=MAX_INDEX, description="The last index of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> EntriesPage:
    found = log.find_entries(db_session=db_session, carrier_id=_log_of(db_session, actor, carrier), actor=actor_id,
                             subject=subject, purpose=purpose, decision=decision, since=since, until=until,
                             after=after, limit=limit)
    return EntriesPage(items=[EntryOut(**e.document()) for e in found],
                       next_after=found[-1].index if len(found) == limit else None)


@router.get("/audit/entries/{index}", response_model=EntryOut, tags=["audit"])
def get_entry(index: LogIndex, actor: LogReader, db_session: SessionDep, carrier: CarrierQuery = None) -> EntryOut:
    stored = log.get_entry(db_session=db_session, carrier_id=_log_of(db_session, actor, carrier), index=index)
    return EntryOut(**stored.document())


@router.get("/audit/entries/{index}/inclusion-proof", response_model=InclusionProofOut, tags=["audit"],
            summary="RFC 9162 §2.1.3 inclusion proof of one entry in the tree of `tree_size` entries")
def inclusion_proof(
    index: LogIndex, actor: LogReader, db_session: SessionDep, carrier: CarrierQuery = None,
    tree_size: Annotated[int | None, Query(ge=1, le=MAX_INDEX, description="Default: the newest signed head's size.")] = None,
) -> InclusionProofOut:
    carrier_id = _log_of(db_session, actor, carrier)
    if tree_size is None:
        tree_size = log.latest_tree_head(db_session=db_session, carrier_id=carrier_id).tree_size
    p = log.inclusion_proof(db_session=db_session, carrier_id=carrier_id, index=index, tree_size=tree_size)
    return InclusionProofOut(leaf_index=p.leaf_index, tree_size=p.tree_size, leaf_hash=p.leaf_hash.hex(),
                             proof=[h.hex() for h in p.proof], root_hash=p.root_hash.hex())


class EntryCheckOut(BaseModel):
    index: int
    entry: dict[str, Any]
    head: dict[str, Any] = Field(description="The newest signed tree head, checked against.")
    head_signed: bool = Field(description="Its Ed25519 signature verifies with the carrier's key.")
    covered: bool = Field(description="Its tree holds the entry (else sign a newer head first).")
    included: bool = Field(description="The leaf recomputed from the entry and the proof give the head's root.")
    verified: bool
    proof: list[str]


@router.get("/audit/entries/{index}/verification", response_model=EntryCheckOut, tags=["audit"],
            summary="Check one entry as an outside verifier would: signed head, recomputed leaf, inclusion")
def verify_entry(index: LogIndex, request: Request, actor: LogReader, db_session: SessionDep,
                 carrier: CarrierQuery = None) -> EntryCheckOut:
    """The standalone verifier's own functions (`parcelguard.verify`), run on the server against the
    newest signed tree head and the carrier's public key."""
    check = proofs.check_entry(db_session=db_session, keyring=_keyring(request),
                               carrier_id=_log_of(db_session, actor, carrier), index=index)
    return EntryCheckOut(index=check.index, entry=check.entry, head=check.head, head_signed=check.head_signed,
                         covered=check.covered, included=check.included, verified=check.verified, proof=check.proof)


@router.get("/audit/consistency-proof", response_model=ConsistencyProofOut, tags=["audit"],
            summary="RFC 9162 §2.1.4 consistency proof between the trees of `first` and `second` entries")
def consistency_proof(
    actor: LogReader, db_session: SessionDep, first: Annotated[int, Query(ge=1, le=MAX_INDEX)],
    second: Annotated[int, Query(ge=1, le=MAX_INDEX)], carrier: CarrierQuery = None,
) -> ConsistencyProofOut:
    p = log.consistency_proof(db_session=db_session, carrier_id=_log_of(db_session, actor, carrier), first=first,
                              second=second)
    return ConsistencyProofOut(first=p.first, second=p.second, proof=[h.hex() for h in p.proof],
                               first_root=p.first_root.hex(), second_root=p.second_root.hex())


EXPORT_TYPE = "application/x-ndjson"
EXPORT_SPOOL_BYTES = 8 * 1024 * 1024  # larger exports spool to a temporary file, never wholly in memory
EXPORT_PURPOSE = "audit_export"


@router.get("/audit/export", tags=["audit"], response_class=StreamingResponse,
            summary="The whole log as JSON lines: the file `parcelguard audit verify --file` checks (logged)",
            responses={200: {"description": "The export: a header line, the signed tree heads, every entry.",
                             "content": {EXPORT_TYPE: {"schema": {"type": "string"}}}}})
def export_log(request: Request, actor: LogReader, db_session: SessionDep,
               carrier: CarrierQuery = None) -> StreamingResponse:
    """What `parcelguard audit export` writes, as a download named `audit-<carrier slug>-<UTC date>.jsonl`.
    Taking a copy of the log is itself an entry of the log (subject `audit:log`, purpose `audit_export`), written
    before the copy is read, so the file holds the record of its own export."""
    carrier_id = _log_of(db_session, actor, carrier)
    slug = accounts.get_carrier(db_session=db_session, carrier_id=carrier_id).slug
    db_session.rollback()  # this request's own read is done: the export reads in sessions of its own
    return export_download(request, actor=actor, carrier_id=carrier_id, slug=slug)


def export_download(request: Request, *, actor: Actor, carrier_id: uuid.UUID, slug: str) -> StreamingResponse:
    """Log the export, then write the log from one snapshot (`export.snapshot` + `export.write`) to a spooled
    file, and stream that: the database is read to the end before the first byte goes out, so a failure is an
    error answer and not a truncated file, and a slow download holds no database transaction. For the API route
    and the HQ console's download alike. Call from a worker thread."""
    state = request.app.state
    with state.sessionmaker() as session, session.begin():
        db.begin_write(session)
        service.log_event(db_session=session, keyring=state.keyring, carrier_id=carrier_id, actor=actor,
                          subject="audit:log", purpose=EXPORT_PURPOSE, request_id=_request_id(request))
    # closed by the response body below once sent (or here, on a failure)
    spool = tempfile.SpooledTemporaryFile(max_size=EXPORT_SPOOL_BYTES, mode="w+", encoding="ascii")  # noqa: SIM115
    try:
        with state.sessionmaker() as session, session.begin():
            export.snapshot(session)
            export.write(db_session=session, keyring=state.keyring, carrier_id=carrier_id, out=spool)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise

    def chunks() -> Iterator[bytes]:
        with spool:
            while block := spool.read(64 * 1024):
                yield block.encode("ascii")

    name = f"audit-{slug}-{now().date().isoformat()}.jsonl"
    return StreamingResponse(chunks(), media_type=EXPORT_TYPE, headers={
        "Content-Disposition": f"attachment; filename={name}", "Cache-Control": "no-store"})


# -- investigation cases --------------------------------------------------------------------------

@router.post("/audit/cases", response_model=CaseOut, status_code=201, tags=["cases"],
             summary="Open an investigation case (its id unlocks HQ security's reveals)")
def open_case(body: CaseIn, actor: Security, db_session: SessionDep) -> CaseOut:
    return CaseOut.model_validate(service.open_case(db_session=db_session, actor=actor, reference=body.reference,
                                                    summary=body.summary))


@router.get("/audit/cases", response_model=list[CaseOut], tags=["cases"])
def list_cases(actor: Security, db_session: SessionDep, open_only: bool = False) -> list[CaseOut]:
    return [CaseOut.model_validate(c) for c in service.list_cases(db_session=db_session, actor=actor,
                                                                  open_only=open_only)]


@router.post("/audit/cases/{case_id}/close", response_model=CaseOut, tags=["cases"])
def close_case(case_id: uuid.UUID, actor: Security, db_session: SessionDep) -> CaseOut:
    return CaseOut.model_validate(service.close_case(db_session=db_session, actor=actor, case_id=case_id))


# -- policy ---------------------------------------------------------------------------------------

def _policy_out(policy: service.Policy) -> PolicyOut:
    return PolicyOut(source=policy.source, rules=[RuleDoc.model_validate(r) for r in policy.rules],
                     limits=[LimitDoc.model_validate(lim) for lim in policy.limits])


@router.get("/audit/policy", response_model=PolicyOut, tags=["policy"],
            summary="Who may reveal which fields, for which purpose, within which scope; and the ceilings")
def get_policy(actor: PolicyReader, db_session: SessionDep) -> PolicyOut:
    assert actor.carrier_id is not None
    return _policy_out(service.policy(db_session=db_session, carrier_id=actor.carrier_id))


@router.put("/audit/policy", response_model=PolicyOut, tags=["policy"],
            summary="Replace the carrier's policy (logged in the tamper-evident log)")
def put_policy(body: PolicyIn, request: Request, actor: Admin, db_session: SessionDep) -> PolicyOut:
    rules = [service.Rule(**r.model_dump()) for r in body.rules]
    limits = [service.Limit(**lim.model_dump()) for lim in body.limits]
    return _policy_out(service.replace_policy(db_session=db_session, keyring=_keyring(request), actor=actor,
                                              rules=rules, limits=limits, request_id=_request_id(request)))


@router.delete("/audit/policy", response_model=PolicyOut, tags=["policy"],
               summary="Drop the carrier's own policy: the platform defaults apply again (logged)")
def reset_policy(request: Request, actor: Admin, db_session: SessionDep) -> PolicyOut:
    return _policy_out(service.reset_policy(db_session=db_session, keyring=_keyring(request), actor=actor,
                                            request_id=_request_id(request)))


# -- alerts ---------------------------------------------------------------------------------------

@router.get("/alerts", response_model=list[AlertOut], tags=["alerts"],
            summary="Alerts: HQ security the carrier's, a station manager those about the station's staff")
def list_alerts(
    actor: AlertReader, db_session: SessionDep, open_only: bool = True,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    kind: Annotated[str | None, Query(max_length=64, description="Only alerts of this kind.")] = None,
    station: Annotated[str | None, Query(max_length=64, description="Only alerts about accounts of this station "
                                                                    "(its id or code).")] = None,
    actor_filter: Annotated[str | None, Query(alias="actor", max_length=64,
                                              description="Only alerts about this account (username or id).")] = None,
    status: Annotated[Literal["open", "acknowledged", "all"] | None,
                      Query(description="Overrides `open_only` when given.")] = None,
) -> list[AlertOut]:
    """Newest first. The filters narrow what the caller may see and never widen it: a station manager naming
    another station gets nothing. An unknown station or account is 422 `station_unknown` / `actor_unknown`."""
    where = alerts.parse_filter(db_session=db_session, actor=actor, kind=kind, station=station, who=actor_filter,
                                status=status or ("open" if open_only else "all"))
    return [AlertOut.model_validate(a) for a in alerts.list_alerts(db_session=db_session, actor=actor, limit=limit,
                                                                   where=where)]


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertOut, tags=["alerts"])
def acknowledge_alert(alert_id: uuid.UUID, actor: AlertReader, db_session: SessionDep) -> AlertOut:
    return AlertOut.model_validate(alerts.acknowledge_alert(db_session=db_session, actor=actor, alert_id=alert_id))

