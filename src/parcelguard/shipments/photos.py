"""Inspection photos (开箱验视): checked for size and type, stored only encrypted.

The type is taken from the bytes (JPEG, PNG or WebP signatures), never from what the client
declares: a declared type that disagrees is refused, so nothing but an image is ever kept under an
image's name. A photo may show what is inside a parcel and whose it is, so it is encrypted under the
carrier's keys, bound to its own row, like every personal field; nothing reads it back except through
the gate.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from parcelguard.core import db
from parcelguard.core.clock import now
from parcelguard.core.errors import FieldError
from parcelguard.crypto.keyring import Keyring
from parcelguard.crypto.types import Aad
from parcelguard.retention import classes
from parcelguard.shipments.models import InspectionPhoto

MAX_PHOTO_BYTES = 5 * 1024 * 1024  # a phone's JPEG at full resolution is 2-4 MB
MAX_PHOTOS = 6
MIN_PHOTO_BYTES = 64  # smaller than any real image: a truncated upload
ACCEPTED = ("image/jpeg", "image/png", "image/webp")


@dataclass(frozen=True)
class Photo:
    declared_type: str | None
    data: bytes

    def __repr__(self) -> str:
        return f"Photo({self.declared_type}, {len(self.data)} bytes)"


def sniff(data: bytes) -> str | None:
    """The image type the bytes are, by their signature; None for anything else."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def check(photos: Sequence[Photo], pointer: str = "/inspection/photos") -> list[FieldError]:
    """Every problem of a set of photos, each at its own pointer."""
    errors: list[FieldError] = []
    if len(photos) > MAX_PHOTOS:
        errors.append(FieldError(pointer, "photo_count", f"At most {MAX_PHOTOS} photos."))
    for i, photo in enumerate(photos[:MAX_PHOTOS]):
        at = f"{pointer}/{i}"
        kind = sniff(photo.data)
        if len(photo.data) > MAX_PHOTO_BYTES:
            errors.append(FieldError(at, "photo_too_large", f"At most {MAX_PHOTO_BYTES // (1024 * 1024)} MiB."))
        elif len(photo.data) < MIN_PHOTO_BYTES or kind is None:
            errors.append(FieldError(at, "photo_type", f"A photo is a JPEG, PNG or WebP image ({', '.join(ACCEPTED)})."))
        elif photo.declared_type not in (None, "", "application/octet-stream", kind):
            errors.append(FieldError(at, "photo_type_mismatch", "The declared type is not what the file is."))
    return errors


def store(*, db_session: Session, keyring: Keyring, carrier_id: uuid.UUID, taken_by: uuid.UUID,
          photos: Sequence[tuple[uuid.UUID, Photo]]) -> int:
    """Encrypt and write (shipment id, photo) pairs already `check`ed; bulk, in the caller's transaction."""
    moment, rows = now(), []
    for shipment_id, photo in photos:
        photo_id = uuid.uuid4()
        kind = sniff(photo.data)
        assert kind is not None, "photos are checked before they are stored"
        rows.append({
            "id": photo_id, "carrier_id": carrier_id, "shipment_id": shipment_id, "content_type": kind,
            "size": len(photo.data), "taken_by": taken_by, "created_at": moment,
            "image": keyring.encrypt(db_session=db_session, carrier_id=carrier_id, plaintext=photo.data,
                                     aad=Aad(InspectionPhoto.__tablename__, "image", photo_id),
                                     data_class=classes.INSPECTION_PHOTO.name),
        })
    if rows:
        db_session.flush()  # keys the keyring made for this transaction go first
        db.bulk_insert(db_session, InspectionPhoto, rows)
    return len(rows)
