"""Moving a shipment's encrypted values to the class `legal_hold` (issue 15): a legal hold keeps a case's parcels out
of their classes' shredding by re-encrypting their values, in place and unread by the caller, under the current
key of that class (`retention.classes.LEGAL_HOLD`). Knows nothing of HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from parcelguard.crypto.keyring import Keyring
from parcelguard.crypto.types import Aad
from parcelguard.retention import classes
from parcelguard.shipments.models import Shipment, ShipmentItem
from parcelguard.shipments.service import PERSONAL_FIELDS, aad


class ValuesGone(Exception):
    """A value of these shipments was shredded already: there is nothing left to move."""


def move_to_legal_hold(*, db_session: Session, keyring: Keyring, carrier_id: uuid.UUID,
                       shipment_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Re-encrypt every encrypted value of these shipments (the carrier's; others are not touched) under the
    class `legal_hold`; answers the ids found. Raises `ValuesGone` when a value's key was destroyed already."""
    shipments = list(db_session.scalars(select(Shipment).where(
        Shipment.carrier_id == carrier_id, Shipment.id.in_(list(shipment_ids))).with_for_update()))
    for shipment in shipments:
        for name in PERSONAL_FIELDS:
            setattr(shipment, name, _moved(db_session, keyring, carrier_id, getattr(shipment, name),
                                           aad(shipment.id, name)))
    found = {s.id for s in shipments}
    if found:
        for item in db_session.scalars(select(ShipmentItem).where(ShipmentItem.shipment_id.in_(found))
                                       .with_for_update()):
            item.description = _moved(db_session, keyring, carrier_id, item.description,
                                      Aad(ShipmentItem.__tablename__, "description", item.id))
    db_session.flush()
    return found


def _moved(db_session: Session, keyring: Keyring, carrier_id: uuid.UUID, ciphertext: bytes, where: Aad) -> bytes:
    if not keyring.can_open(db_session=db_session, carrier_id=carrier_id, ciphertext=ciphertext):
        raise ValuesGone()
    return keyring.rebind(db_session=db_session, carrier_id=carrier_id, ciphertext=ciphertext, aad=where, to=where,
                          data_class=classes.LEGAL_HOLD.name)
