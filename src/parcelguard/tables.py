"""Every domain's tables, imported for their side effect: `Base.metadata` is then complete.

Alembic's environment and the schema test import this one module; a new domain adds its line here.
"""

import parcelguard.accounts.models
import parcelguard.audit.models
import parcelguard.contracts.models
import parcelguard.core.ratelimit
import parcelguard.crypto.models
import parcelguard.detection.models
import parcelguard.identity.models
import parcelguard.incidents.models
import parcelguard.privacy_numbers.models
import parcelguard.regulator.models
import parcelguard.retention.models
import parcelguard.shipments.models
import parcelguard.tracking.models
import parcelguard.waybills.models
import parcelguard.webhooks.models  # noqa: F401
