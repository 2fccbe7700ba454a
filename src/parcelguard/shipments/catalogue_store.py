"""A carrier's catalogue as an admin last saved it (`CatalogueVersion`), or the shipped one.

(Skeleton: versions are being written; `current` answers the shipped catalogue until then.)
"""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from parcelguard.shipments.catalogue import Catalogue


def current(*, db_session: Session, carrier_id: uuid.UUID) -> Catalogue:
    """The catalogue intake checks this carrier's parcels against."""
    return Catalogue.default()
