"""The uploader: sealed real-name records to the regulator."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from parcelguard.cli.apps import uploader_app
from parcelguard.cli.context import carrier_by_slug, load_keyring, load_settings, open_session
from parcelguard.core import db


@uploader_app.command("run")
def uploader_run(once: Annotated[bool, typer.Option(help="Send what waits now, once, and exit.")] = False) -> None:
    """Send the outbox to the regulator's platform (PARCELGUARD_REGULATOR_URL) until stopped; with
    PARCELGUARD_FEED=jetstream the batches go over NATS JetStream at PARCELGUARD_NATS_URL instead (incident
    reports still take HTTP)."""
    import signal
    import threading

    from parcelguard.core.logging import configure as configure_logging
    from parcelguard.regulator.uploader import Uploader

    settings = load_settings()
    configure_logging(settings.log_level)
    engine = db.make_engine(settings.resolved_database_url)
    feed = None
    if settings.feed == "jetstream":
        from parcelguard.regulator.jetstream import JetStreamFeed

        feed = JetStreamFeed(settings.nats_url, timeout=settings.upload_timeout_seconds,
                             replicas=settings.nats_replicas)
    uploader = Uploader(
        sessionmaker=db.make_sessionmaker(engine), keyring=load_keyring(settings), url=settings.regulator_url,
        receipt_keys=settings.load_regulator_receipt_keys(), batch_records=settings.upload_batch_records,
        linger=settings.upload_linger_seconds, timeout=settings.upload_timeout_seconds,
        backoff_max=settings.upload_backoff_max_seconds, alert_seconds=settings.upload_alert_seconds, feed=feed,
        in_flight=settings.upload_in_flight)
    try:
        if once:
            sent = uploader.run_once(force=True)
            print(f"batches {len(sent)}, records delivered {sum(s.delivered for s in sent)}, "
                  f"failed {sum(1 for s in sent if s.error)}")
            if any(s.error for s in sent):
                raise typer.Exit(1)
            return
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        where = f"{settings.nats_url.rsplit('@', 1)[-1]} (JetStream)" if feed is not None else settings.regulator_url
        print(f"parcelguard uploader to {where}", flush=True)
        uploader.run(stop)
    finally:
        uploader.close()
        engine.dispose()


@uploader_app.command("registration")
def uploader_registration(carrier: Annotated[str, typer.Option(help="The carrier's slug.")]) -> None:
    """Print what the regulator registers this carrier with (JSON for `parcelguard regulator carriers add`):
    its code, id and the public half of its upload signing key (made now if it has none)."""
    from parcelguard.regulator import flows

    settings = load_settings()
    with open_session(settings) as session:
        db.begin_write(session)
        print(json.dumps(flows.registration(db_session=session, keyring=load_keyring(settings), carrier_slug=carrier),
                         ensure_ascii=False))


@uploader_app.command("rotate-key")
def uploader_rotate_key(carrier: Annotated[str, typer.Option(help="The carrier's slug.")]) -> None:
    """Make a new upload signing key for the carrier and print its registration (JSON for `parcelguard
    regulator carriers add`). Batches are signed with it from now on (a running uploader within a minute)
    and are refused until the regulator has registered it; then the regulator may revoke the old key."""
    from parcelguard.keys import service as keys
    from parcelguard.regulator import flows

    settings = load_settings()
    keyring = load_keyring(settings)
    with open_session(settings) as session:
        db.begin_write(session)
        carrier_id = carrier_by_slug(session, carrier).id
        done = keys.rotate_signing_from_command_line(db_session=session, keyring=keyring, carrier_id=carrier_id,
                                                     purpose=flows.UPLOAD_KEY_PURPOSE)
        registration = flows.registration(db_session=session, keyring=keyring, carrier_slug=carrier)
    print(json.dumps(registration, ensure_ascii=False))
    print(f"carrier {carrier}: upload key {registration['key_id']} (version {done.version}) is primary "
          f"(audit log entry {done.log_index}); register it with `parcelguard regulator carriers add`",
          file=sys.stderr)


# -- the regulator's platform: its own settings (PARCELGUARD_REGULATOR_*), database and keys -------------
