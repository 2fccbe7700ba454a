"""Virtual numbers (隐私号, AXN with extension): a carrier's pool, the binding of shipments to
(number, extension) pairs, call routing through the gate, and call records. Knows nothing of HTTP.

A label carries `number,,extension`; the telephony provider asks `route_call` where to connect a call
to that pair, and the answer (the recipient's real number) comes out of `audit.service.reveal` as the
carrier's telephony service account, purpose `call_routing`, logged before it is read. A pair routes
only while its binding is live: until delivery plus the grace period (`start_grace`), after which the
next allocation releases it for reuse.

Allocation is the database's job, not this module's: candidate pairs are inserted with
`INSERT ... ON CONFLICT DO NOTHING` against the partial unique index on live pairs, so two shipments
never hold one pair whatever the concurrency; the rows that lost are tried again with other pairs.

The provider authenticates each request with an HMAC-SHA256 signature (RFC 2104) under the carrier's
provider secret; the wire format (`signature_header`, `check_signature`) is apart from the logic.

The service is four modules, one per part: `bindings` (pairs, allocation, grace), `pool` (the numbers),
`provider` (its secret, signatures, call routing) and `calls` (call records). This module is their one
face: callers import `service` and find every part here.
"""

from __future__ import annotations

from parcelguard.crypto.request_signing import check_signature, signature_header  # noqa: F401
from parcelguard.privacy_numbers.bindings import (  # noqa: F401
    EXTENSIONS,
    INSERT_CHUNK,
    MAX_NUMBERS_PER_REQUEST,
    MAX_ROUNDS,
    MAX_SECRET_OVERLAP,
    PROVIDER_KEY_PURPOSE,
    PROVIDER_RATE,
    RANDOM_ROUNDS,
    RELEASE_EVERY,
    SIGNATURE_HEADER,
    SIGNATURE_TOLERANCE_SECONDS,
    Binding,
    BindingExpired,
    BindingUnknown,
    NumberPoolExhausted,
    Outcome,
    SignatureInvalid,
    _last_sweep,
    bind_many,
    binding_for,
    bindings_for,
    log,
    normalise_number,
    release_expired,
    start_grace,
)
from parcelguard.privacy_numbers.calls import (  # noqa: F401
    CallOutcome,
    call_outcomes,
    record_call,
    visible_call_outcomes,
)
from parcelguard.privacy_numbers.pool import (  # noqa: F401
    PoolNumber,
    add_numbers,
    list_numbers,
)
from parcelguard.privacy_numbers.provider import (  # noqa: F401
    Routed,
    SecretGeneration,
    authenticate_provider,
    provider_secret,
    provider_secrets,
    rotate_provider_secret,
    route_call,
    telephony_actor,
)
