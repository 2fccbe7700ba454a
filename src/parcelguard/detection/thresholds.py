"""Detection's thresholds: the defaults in code, a carrier's own set in `detection_settings`, read and replaced
by HQ security (each change an entry of the carrier's tamper-evident log). docs/detection.md says what each
one does and why it has its default. Knows nothing of HTTP."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session

from parcelguard.audit import service as audit
from parcelguard.core.auth import Actor
from parcelguard.core.clock import now
from parcelguard.core.errors import NotFound
from parcelguard.crypto.keyring import Keyring
from parcelguard.detection.models import DetectionSettings

SUBJECT = "detection:settings"  # the log entry of a change: what changed, not the values
CHANGED, RESET = "detection_settings_change", "detection_settings_reset"


class Thresholds(BaseModel):
    """Every knob of detection, with its default and its bounds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window_hours: int = Field(default=24, ge=1, le=168, description="The window a run looks at, ending now.")
    history_days: int = Field(default=14, ge=3, le=90, description="How far back an actor's own history reaches.")
    min_history_periods: int = Field(
        default=5, ge=2, le=90, description="Active periods of history an actor needs before their own baseline "
                                            "counts; fewer: judged on peers alone (`alone_z`).")
    min_peers: int = Field(default=5, ge=2, le=1000,
                           description="Peers (same role, same station; else same role in the carrier) needed "
                                       "before the peer baseline counts; fewer: judged on own history alone.")
    self_z: float = Field(default=5.0, ge=1, le=100, description="Robust z against the actor's own history.")
    peer_z: float = Field(default=5.0, ge=1, le=100, description="Robust z against the actor's peers.")
    alone_z: float = Field(default=8.0, ge=1, le=100,
                           description="Robust z needed when only one of the two baselines exists.")
    volume_min_reveals: int = Field(default=30, ge=1, le=1_000_000,
                                    description="Reveals in the window below which no volume outlier is raised.")
    untasked_min: int = Field(default=100, ge=1, le=1_000_000,
                              description="Reveals without a task (wide-scope roles) below which none is raised.")
    off_shift_min: int = Field(default=20, ge=1, le=1_000_000,
                               description="Off-shift reveals in the window below which none is raised.")
    off_shift_min_share: float = Field(default=0.25, ge=0, le=1,
                                       description="Share of the window's reveals that must be off shift.")
    shift_min_share: float = Field(default=0.02, ge=0, le=0.5,
                                   description="An hour of day belongs to a shift when it holds at least this "
                                               "share of the history's reveals.")
    shift_margin_hours: int = Field(default=1, ge=0, le=6, description="Hours added on each side of a shift.")
    shift_min_history_reveals: int = Field(
        default=50, ge=1, le=1_000_000, description="Reveals of history needed to learn an actor's own shift; "
                                                    "fewer: the shift of their station's peers of the same role.")
    denied_min: int = Field(default=20, ge=1, le=1_000_000,
                            description="Refused reveals in the window below which none is raised.")
    enumeration_min_misses: int = Field(default=200, ge=1, le=10_000_000,
                                        description="Public lookups of unknown numbers by one client in the window.")
    enumeration_min_miss_share: float = Field(default=0.5, ge=0, le=1,
                                              description="... that are at least this share of its lookups.")
    enumeration_max_lookups: int = Field(default=3000, ge=1, le=10_000_000,
                                         description="Public lookups by one client in the window that are an "
                                                     "enumeration whatever they found.")


DEFAULTS = Thresholds()


@dataclass(frozen=True)
class Effective:
    thresholds: Thresholds
    source: str  # default | carrier
    updated_at: object | None = None


def effective(*, db_session: Session, carrier_id: uuid.UUID) -> Effective:
    """The carrier's thresholds: its own set over the defaults (a knob added later takes its default)."""
    row = db_session.get(DetectionSettings, carrier_id)
    if row is None:
        return Effective(DEFAULTS, "default")
    known = {k: v for k, v in (row.thresholds or {}).items() if k in Thresholds.model_fields}
    try:
        return Effective(Thresholds(**known), "carrier", row.updated_at)
    except ValidationError:  # a stored set this version no longer accepts: the defaults, never a crash
        return Effective(DEFAULTS, "default")


def replace(*, db_session: Session, keyring: Keyring, actor: Actor, thresholds: Thresholds,
            request_id: str | None = None) -> Effective:
    """Replace the carrier's thresholds. Logged in the carrier's audit log (subject `detection:settings`)."""
    carrier_id = _carrier(actor)
    row = db_session.get(DetectionSettings, carrier_id)
    if row is None:
        row = DetectionSettings(carrier_id=carrier_id, thresholds={})
        db_session.add(row)
    row.thresholds, row.updated_by, row.updated_at = thresholds.model_dump(), actor.user_id, now()
    db_session.flush()
    audit.log_event(db_session=db_session, keyring=keyring, carrier_id=carrier_id, actor=actor, subject=SUBJECT,
                    purpose=CHANGED, request_id=request_id)
    return effective(db_session=db_session, carrier_id=carrier_id)


def reset(*, db_session: Session, keyring: Keyring, actor: Actor, request_id: str | None = None) -> Effective:
    """Drop the carrier's own thresholds: the defaults apply again. Logged."""
    carrier_id = _carrier(actor)
    row = db_session.get(DetectionSettings, carrier_id)
    if row is not None:
        db_session.delete(row)
        db_session.flush()
    audit.log_event(db_session=db_session, keyring=keyring, carrier_id=carrier_id, actor=actor, subject=SUBJECT,
                    purpose=RESET, request_id=request_id)
    return Effective(DEFAULTS, "default")


def _carrier(actor: Actor) -> uuid.UUID:
    if actor.carrier_id is None:
        raise NotFound("There is nothing here for an account outside a carrier.", code="carrier_unknown")
    return actor.carrier_id
