"""The feed's settings (issue 17): how batches reach the regulator and how fast they go, on both ends.

Split out of `core.config` (which was near 500 lines): `Settings` and `RegulatorSettings` inherit these classes,
so the names and the environment variables are what they were (`PARCELGUARD_FEED`, `PARCELGUARD_NATS_URL`,
`PARCELGUARD_UPLOAD_*`; the platform's `PARCELGUARD_REGULATOR_*` first, then the carrier's name)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BeforeValidator, Field
from pydantic_settings import BaseSettings

# JetStream keeps at most 5 copies of a stream (one per server of a cluster, R1..R5).
MAX_NATS_REPLICAS = 5


def parse_replicas(value: Any) -> int:
    """1..5, from an int or its text; anything else is one clear line naming the setting."""
    try:
        replicas = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        replicas = 0
    if isinstance(value, bool) or not 1 <= replicas <= MAX_NATS_REPLICAS:
        raise ValueError(f"PARCELGUARD_NATS_REPLICAS is how many NATS servers keep a copy of each feed stream: "
                         f"a whole number from 1 to {MAX_NATS_REPLICAS} (3 in a 3-server cluster)")
    return replicas


NatsReplicas = Annotated[int, BeforeValidator(parse_replicas)]


class CarrierFeedSettings(BaseSettings):
    """The carrier's end: the uploader (`parcelguard uploader run`)."""

    # How batches reach the regulator: HTTP POSTs to `regulator_url` (the default), or NATS JetStream at
    # `nats_url` (issue 17; docs/regulator.md). Incident reports take HTTP either way.
    feed: Literal["http", "jetstream"] = "http"
    nats_url: str = "nats://127.0.0.1:4222"
    # The copies of PG_BATCHES and PG_RECEIPTS when this end makes them (3 on a 3-server cluster). The streams
    # are the regulator's: a carrier never changes those that exist, it logs that they differ.
    nats_replicas: NatsReplicas = 1
    # A batch goes when it holds this many records or its oldest has waited this long, whichever first.
    upload_batch_records: int = Field(default=1000, ge=1, le=1000)
    upload_linger_seconds: float = Field(default=1.0, gt=0)
    upload_timeout_seconds: float = Field(default=10.0, gt=0)
    # Batches of one carrier on their way at once, each of other records (1: one after the other, which caps a
    # carrier near 1,500 records/s on the 2-core test machine: build, ingest, receipt and apply in a row). 4 keep
    # the platform's workers busy while a receipt travels and is applied (bench/feed_jetstream.py).
    upload_in_flight: int = Field(default=4, ge=1, le=16)
    # Retries wait 0.5 s, 1 s, 2 s, ... up to this, each with full jitter.
    upload_backoff_max_seconds: float = Field(default=30.0, gt=0)
    # An alert (`upload_delayed`) when the oldest unsent record is older than this: the rule is 30 s.
    upload_alert_seconds: float = Field(default=30.0, gt=0)


class PlatformFeedSettings(BaseSettings):
    """The platform's end (`parcelguard regulator run`)."""

    # Batches also arrive over NATS JetStream (issue 17) when the feed is "jetstream": its own name first,
    # then the carrier's PARCELGUARD_FEED / PARCELGUARD_NATS_URL, so one setting turns on both ends.
    feed: Literal["http", "jetstream"] = Field(
        default="http", validation_alias=AliasChoices("PARCELGUARD_REGULATOR_FEED", "PARCELGUARD_FEED"))
    nats_url: str = Field(default="nats://127.0.0.1:4222", validation_alias=AliasChoices(
        "PARCELGUARD_REGULATOR_NATS_URL", "PARCELGUARD_NATS_URL"))
    # The streams' copies: the platform makes the streams with this many and brings existing ones to it.
    nats_replicas: NatsReplicas = Field(default=1, validation_alias=AliasChoices(
        "PARCELGUARD_REGULATOR_NATS_REPLICAS", "PARCELGUARD_NATS_REPLICAS"))
    # Batches this process ingests at once (pull workers on the one durable consumer, each its own transaction).
    feed_workers: int = Field(default=2, ge=1, le=16)
