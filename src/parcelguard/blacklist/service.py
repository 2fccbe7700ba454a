"""The carrier's side of the industry blacklist, no HTTP: hash a document for it, sign queries and reports with
the carrier's reporting key, and apply the carrier's policy when a person being hired is listed.

At hiring (`identity.service.register_staff_document`) the staff member's document is hashed under the
industry key (`Industry.person`, kept as `staff_documents.industry_index`) and the blacklist is asked. If the
person is listed, the carrier's setting `blacklist_policy` decides: `refuse` answers 409 `staff_blacklisted`
and writes nothing; `flag` registers the document, writes an entry in the carrier's audit log and raises the
alert `staff_blacklisted` for HQ security.

If the blacklist cannot answer (down, too slow, or refusing the carrier's request: an unregistered or revoked
key, a clock far off), the same setting decides the other way round. A carrier that refuses the listed refuses
what it cannot check: 503 `blacklist_unreachable`, nothing written, and the manager tries again later; hiring
waits minutes, where letting a listed person through under `refuse` would break the carrier's own rule. A
carrier that flags registers the document (its hash is kept, so it can be asked again), logs it and raises
`staff_blacklist_unchecked`, so HQ security knows the check is owed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.orm import Session

from parcelguard.accounts import service as accounts
from parcelguard.audit import service as audit
from parcelguard.blacklist import protocol
from parcelguard.core.auth import Actor
from parcelguard.core.clock import now
from parcelguard.core.errors import Conflict, NotFound, ServiceUnavailable
from parcelguard.crypto import signing
from parcelguard.crypto.keyring import Keyring, Signer

REPORT_KEY_PURPOSE = "blacklist_report"  # the carrier's Ed25519 key for reports and queries (`Keyring.signing_key`)
REFUSE, FLAG = "refuse", "flag"
POLICIES = (REFUSE, FLAG)


class BlacklistUnavailable(Exception):
    """The blacklist gave no answer: `cause` is a stable code (`unreachable`, `timeout`, `http_503`, the
    platform's problem code such as `carrier_key_unknown`, `answer_format`), never personal data."""

    def __init__(self, cause: str) -> None:
        super().__init__(f"the industry blacklist did not answer: {cause}")
        self.cause = cause


class Port(Protocol):
    """How the carrier reaches the blacklist (`client.BlacklistClient` over HTTP); raises BlacklistUnavailable."""

    def query(self, wire: dict[str, Any]) -> bool: ...

    def report(self, wire: dict[str, Any]) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Industry:
    """The blacklist as the carrier is configured for it: the industry key (never printed) and the port."""

    key: bytes = field(repr=False)
    port: Port

    def person(self, index_key: str) -> bytes:
        """The industry's keyed hash of a document, from its normalised form (`Document.index_key`)."""
        return protocol.person_hash(self.key, index_key)


def registration(*, db_session: Session, keyring: Keyring, carrier_slug: str) -> dict[str, str]:
    """What the blacklist registers the carrier with (`parcelguard blacklist carriers add`): its code, id, name
    and the public half of its reporting key (made now if it has none)."""
    carrier = accounts.get_carrier_by_slug(db_session=db_session, slug=carrier_slug)
    if carrier is None:
        raise NotFound("No such carrier.", code="carrier_unknown")
    signer = keyring.signing_key(db_session=db_session, carrier_id=carrier.id, purpose=REPORT_KEY_PURPOSE)
    return {"code": carrier.slug, "carrier_id": str(carrier.id), "name": carrier.name,
            "key_id": signing.key_id(signer.public_key), "public_key": protocol.b64(signer.public_key)}


def reporting_key(*, db_session: Session, keyring: Keyring, carrier_id: uuid.UUID) -> tuple[str, str, Signer]:
    """(the carrier's code, its key id, the signer) a report or query is signed with."""
    carrier = accounts.get_carrier(db_session=db_session, carrier_id=carrier_id)
    signer = keyring.signing_key(db_session=db_session, carrier_id=carrier_id, purpose=REPORT_KEY_PURPOSE)
    return carrier.slug, signing.key_id(signer.public_key), signer


def is_listed(*, db_session: Session, keyring: Keyring, industry: Industry, carrier_id: uuid.UUID,
              person: bytes) -> bool:
    """Ask the blacklist, signed as the carrier; raises BlacklistUnavailable when it cannot answer."""
    code, key_id, signer = reporting_key(db_session=db_session, keyring=keyring, carrier_id=carrier_id)
    query = protocol.Query(carrier=code, key_id=key_id, query_id=uuid.uuid4(), person=person, sent_at=now())
    return industry.port.query(query.signed(signer.sign))


def screen_staff(*, db_session: Session, keyring: Keyring, industry: Industry, actor: Actor, user_id: uuid.UUID,
                 station_id: uuid.UUID | None, person: bytes, request_id: str | None = None) -> None:
    """At registering a staff member's document: ask the blacklist and apply the carrier's policy (module
    docstring). Raises 409 `staff_blacklisted` or 503 `blacklist_unreachable` under `refuse`; under `flag`
    returns after logging and alerting. Nothing it writes names the person beyond the account."""
    assert actor.carrier_id is not None
    policy = accounts.get_carrier(db_session=db_session, carrier_id=actor.carrier_id).blacklist_policy
    try:
        listed = is_listed(db_session=db_session, keyring=keyring, industry=industry, carrier_id=actor.carrier_id,
                           person=person)
    except BlacklistUnavailable as exc:
        if policy == REFUSE:
            raise ServiceUnavailable("The industry blacklist could not be asked, and this carrier refuses staff it "
                                     "cannot check: nothing was registered; try again later.",
                                     code="blacklist_unreachable", extensions={"cause": exc.cause}) from None
        _flag(db_session, keyring, actor, user_id, station_id, "staff_blacklist_unchecked", request_id,
              cause=exc.cause)
        return
    if not listed:
        return
    if policy == REFUSE:
        raise Conflict("This person is on the industry blacklist and this carrier refuses to take them on: nothing "
                       "was registered.", code="staff_blacklisted", field="/number")
    _flag(db_session, keyring, actor, user_id, station_id, "staff_blacklisted", request_id)


def _flag(db_session: Session, keyring: Keyring, actor: Actor, user_id: uuid.UUID, station_id: uuid.UUID | None,
          kind: str, request_id: str | None, cause: str | None = None) -> None:
    assert actor.carrier_id is not None
    index = audit.log_event(db_session=db_session, keyring=keyring, carrier_id=actor.carrier_id, actor=actor,
                            subject=f"user:{user_id}", purpose=kind, request_id=request_id)
    detail: dict[str, Any] = {"user_id": str(user_id), "station_id": str(station_id) if station_id else None,
                              "registered_by": str(actor.user_id), "request_id": request_id}
    if cause is not None:
        detail["cause"] = cause
    audit.raise_alert(db_session=db_session, carrier_id=actor.carrier_id, kind=kind,
                      dedupe_key=f"{kind}:{user_id}:{uuid.uuid4()}", actor_id=user_id, detail=detail,
                      audit_index=index)
