"""Detection over the audit log, from the command line: `parcelguard detect run` judges the last hours of one
carrier's log (or every carrier's) as the server's schedule does, and raises what is new as alerts."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from parcelguard.cli.apps import detect_app, out
from parcelguard.cli.context import carrier_by_slug, load_settings, open_session


@detect_app.command("run")
def detect_run(
    carrier: Annotated[str | None, typer.Option(help="Carrier slug; every carrier if omitted.")] = None,
    hours: Annotated[int | None, typer.Option(
        min=1, max=168, help="The window, ending now; the carrier's `window_hours` (24 by default) if omitted."
    )] = None,
) -> None:
    """Judge the window of the log against each account's history and peers; new findings become alerts (once
    per rule, account and Beijing day: running again raises nothing new)."""
    from parcelguard.accounts import service as accounts
    from parcelguard.core import db
    from parcelguard.detection import schedule

    settings = load_settings()
    with open_session(settings) as session:
        targets = [carrier_by_slug(session, carrier).id] if carrier else None
    engine = db.make_engine(settings.resolved_database_url)
    try:
        results = schedule.run_all(sessionmaker=db.make_sessionmaker(engine), trigger="command_line",
                                   carrier_ids=targets, window=None if hours is None else timedelta(hours=hours))
    finally:
        engine.dispose()
    with open_session(settings) as session:
        slugs = {r.run.carrier_id: accounts.get_carrier(db_session=session, carrier_id=r.run.carrier_id).slug
                 for r in results}
    for result in results:
        run = result.run
        kinds = ", ".join(sorted({f.kind for f in result.raised})) or "none new"
        out.print(f"carrier {slugs[run.carrier_id]}: {run.window_start:%Y-%m-%d %H:%M} to "
                  f"{run.window_end:%Y-%m-%d %H:%M} UTC, {run.actors} account(s), {len(result.findings)} finding(s), "
                  f"{run.alerts_raised} new alert(s) ({kinds}) in {run.duration_ms} ms")
