"""Retention from the command line: `parcelguard retention plan` (what goes, when), `run` (destroy what is due
now, as the server does daily; idempotent, resumes after a crash), `records` (the signed destruction records, as
JSON lines to keep or hand to an auditor)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from parcelguard.cli.apps import UserError, out, retention_app
from parcelguard.cli.context import carrier_by_slug, load_keyring, load_settings, open_session

Carrier = Annotated[str, typer.Option(help="The carrier's slug.")]


@retention_app.command("plan")
def retention_plan(
    carrier: Carrier,
    at: Annotated[str | None, typer.Option(help="Show what is due at this ISO 8601 time (with its offset) "
                                                "instead of now.")] = None,
) -> None:
    """Every month of every class the carrier holds keys for, and the oldest month of each class whose rows are
    deleted: its retention and the day it goes."""
    from parcelguard.core.clock import now
    from parcelguard.retention import service

    moment = _moment(at) if at else now()
    settings = load_settings()
    keyring = load_keyring(settings)
    with open_session(settings) as session:
        carrier_id = carrier_by_slug(session, carrier).id
        months = service.plan(db_session=session, keyring=keyring, carrier_id=carrier_id)
        rows = service.row_plan(db_session=session, carrier_id=carrier_id)
    table = Table(title=f"retention of carrier {carrier} as of {moment:%Y-%m-%d %H:%M %Z}")
    for column in ("class", "retained as", "month", "months kept", "goes on", "data keys", "due"):
        table.add_column(column)
    for m in months:
        table.add_row(m.data_class, m.retained_as, m.period, str(m.months), f"{m.expires_at:%Y-%m-%d}",
                      str(m.live_data_keys), "yes" if m.due(moment) else "")
    out.print(table)
    table = Table(title="rows deleted month by month: the oldest month of each class that still has rows")
    for column in ("class", "oldest month", "months kept", "goes on", "due"):
        table.add_column(column)
    for m in rows:
        table.add_row(m.data_class, m.period, str(m.months), f"{m.expires_at:%Y-%m-%d}", "yes" if m.due(moment) else "")
    out.print(table)
    key_store = "a key store of its own" if keyring.keystore.separate else "the database itself (shredding does " \
        "not reach backups: set PARCELGUARD_KEYSTORE_URL)"
    out.print(f"shredding keys kept in {key_store}")


@retention_app.command("run")
def retention_run(carrier: Annotated[str | None, typer.Option(help="Carrier slug; every carrier if omitted.")] = None
                  ) -> None:
    """Destroy every month past its retention now, each with a signed destruction record in the carrier's log. On
    PostgreSQL it first makes the monthly partitions ahead (shipments, the audit log), as the server does daily."""
    from parcelguard import partitions
    from parcelguard.core import db
    from parcelguard.retention import schedule

    settings = load_settings()
    keyring = load_keyring(settings)
    with open_session(settings) as session:
        targets = {carrier_by_slug(session, carrier).id: carrier} if carrier else None
    engine = db.make_engine(settings.resolved_database_url)
    try:
        for name in partitions.ensure_partitions(engine):
            out.print(f"partition {name} made")
        done = schedule.run_all(sessionmaker=db.make_sessionmaker(engine), keyring=keyring, strict=True,
                                carrier_ids=list(targets) if targets else None)
    finally:
        engine.dispose()
    for carrier_id, result in done.items():
        name = targets[carrier_id] if targets else str(carrier_id)
        if not result.records:
            out.print(f"carrier {name}: nothing is past its retention")
        for signed in result.records:
            body = signed.body
            items = sum(body["items"].values())
            out.print(f"carrier {name}: destroyed {body['data_class']} {body['period']} ({items} value(s), "
                      f"{len(body['data_key_ids'])} data key(s)); record {body['record_id']}, log entry "
                      f"{signed.record.audit_index}")


@retention_app.command("records")
def retention_records(
    carrier: Carrier,
    out_file: Annotated[str | None, typer.Option("--out", help="Write JSON lines to this file instead of "
                                                               "standard output.")] = None,
) -> None:
    """The carrier's signed destruction records, oldest first, one JSON object a line: the record, its signature
    and key id (verify with the carrier's `retention` public key) and its log entry's index."""
    from parcelguard.retention import records

    settings = load_settings()
    with open_session(settings) as session:
        lines = [json.dumps(s.wire(), ensure_ascii=False, sort_keys=True) for s in records.listed(
            db_session=session, carrier_id=carrier_by_slug(session, carrier).id)]
    text = "".join(line + "\n" for line in lines)
    if out_file:
        with open(out_file, "w", encoding="utf-8") as f:
            f.write(text)
        out.print(f"{len(lines)} record(s) written to {out_file}")
    else:
        print(text, end="")


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(f"--at: not an ISO 8601 time: {text!r}") from None
    if moment.tzinfo is None:
        raise UserError("--at: give the time with its offset, e.g. 2029-01-01T00:00:00+08:00")
    return moment
