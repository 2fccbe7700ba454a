"""The tamper-evident audit log: export it, verify it (the database or an export file)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from parcelguard.verify import LogReport

from parcelguard.cli.apps import UserError, audit_app
from parcelguard.cli.context import carrier_by_slug, load_keyring, load_settings, open_session


@audit_app.command("export")
def audit_export(
    out_file: Annotated[str, typer.Option("--out", help="File to write (JSON lines); - (the default) for "
                                                        "standard output.")] = "-",
    carrier: Annotated[str | None, typer.Option(help="Carrier slug; may be left out when there is one carrier.")]
    = None,
) -> None:
    """Write a carrier's audit log (entries and signed tree heads) as JSON lines, to standard output unless
    --out names a file; the summary line goes to standard error."""
    from parcelguard.audit import export

    settings = load_settings()
    with open_session(settings) as session:
        export.snapshot(session)
        carrier_row = _log_carrier(session, carrier)
        if out_file == "-":
            done = export.write(db_session=session, keyring=load_keyring(settings), carrier_id=carrier_row.id,
                                out=sys.stdout)
            sys.stdout.flush()
            print(f"exported {done.entries} entries and {done.heads} tree heads of carrier {carrier_row.slug}",
                  file=sys.stderr)
            return
        target = Path(out_file)
        partial = target.with_name(target.name + ".partial")
        try:
            with partial.open("w", encoding="ascii") as fh:
                done = export.write(db_session=session, keyring=load_keyring(settings), carrier_id=carrier_row.id,
                                    out=fh)
            partial.replace(target)  # a failed export leaves no half file under the name asked for
        except OSError as exc:
            raise UserError(f"cannot write {out_file}: {exc.strerror or exc}") from None
        finally:
            partial.unlink(missing_ok=True)
    print(f"exported {done.entries} entries and {done.heads} tree heads of carrier {carrier_row.slug} to {out_file}")


@audit_app.command("verify")
def audit_verify(
    file: Annotated[str | None, typer.Option("--file", help="An export to verify instead of the database; "
                                                            "- for standard input.")] = None,
    carrier: Annotated[str | None, typer.Option(help="Carrier slug; may be left out when there is one carrier. "
                                                     "With --file: the file must be this carrier's log.")] = None,
    public_key: Annotated[list[str] | None, typer.Option(
        "--public-key", metavar="[KEYID=]HEX",
        help="Trust this Ed25519 key for the tree heads (repeatable) instead of the database's keyring.")] = None,
    keys_from_db: Annotated[bool, typer.Option(
        "--keys-from-db", help="With --file: trust the carrier's keys in this database, not the file's.")] = False,
) -> None:
    """Recompute a carrier's audit log and check every signed tree head: `ok <size> <root>`, or the first bad."""
    from parcelguard import verify
    from parcelguard.audit import export

    try:
        by_id, any_id = verify.parse_public_keys(public_key or [])
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if file is None:
        settings = load_settings()
        with open_session(settings) as session:
            export.snapshot(session)
            carrier_id = _log_carrier(session, carrier).id
            report = export.verify_database(db_session=session, keyring=load_keyring(settings), carrier_id=carrier_id,
                                            keys=by_id if public_key else None, any_id_keys=any_id)
    else:
        report = _verify_file(file, carrier, by_id, any_id, keys_from_db, trusted=bool(public_key))
    for note in report.notes:
        print(f"parcelguard: note: {note}", file=sys.stderr)
    print(report.line())
    if not report.ok:
        raise typer.Exit(1)


def _verify_file(file: str, carrier: str | None, by_id: dict[int, bytes], any_id: list[bytes], keys_from_db: bool,
                 *, trusted: bool) -> LogReport:
    import itertools
    import uuid

    from parcelguard import verify
    from parcelguard.audit import export

    if keys_from_db and trusted:
        raise UserError("give --public-key or --keys-from-db, not both")
    try:
        fh = sys.stdin if file == "-" else open(file, encoding="utf-8", errors="surrogateescape")  # noqa: SIM115
    except OSError as exc:
        raise UserError(f"cannot read {file}: {exc.strerror or exc}") from None
    with fh:
        stream = verify.read_records(fh)
        header = next(stream, None)
        if header is None or header.get("type") != "log":
            raise UserError(f"{file}: not an audit log export: the first line is not a log header")
        log_carrier = header.get("carrier")
        if carrier is not None or keys_from_db:
            settings = load_settings()
            with open_session(settings) as session:
                if carrier is not None:
                    expected = str(carrier_by_slug(session, carrier).id)
                    if log_carrier != expected:
                        raise UserError(f"{file} is the log of carrier {log_carrier}, not of {carrier} ({expected})")
                if keys_from_db:
                    try:
                        carrier_id = uuid.UUID(str(log_carrier))
                    except ValueError:
                        raise UserError(f"{file}: not an audit log export: no carrier in its header") from None
                    by_id = export.public_keys(db_session=session, keyring=load_keyring(settings), carrier_id=carrier_id)
                    trusted = True
        try:
            return verify.verify_log(itertools.chain([header], stream), by_id, any_id_keys=any_id,
                                     trust_file_keys=not trusted)
        except verify.LogFormatError as exc:
            raise UserError(f"{file}: not an audit log export: {exc}") from None


def _log_carrier(session: Session, slug: str | None):  # type: ignore[no-untyped-def]
    """The carrier named by `slug`, or the only one when there is exactly one."""
    if slug is not None:
        return carrier_by_slug(session, slug)
    from sqlalchemy import select

    from parcelguard.accounts.models import Carrier

    # accounts.service has no list of carriers yet: a read of its table, kept to this one place
    slugs = session.scalars(select(Carrier.slug).order_by(Carrier.slug).limit(2)).all()
    if len(slugs) != 1:
        raise UserError("there is no carrier yet" if not slugs else
                        "there is more than one carrier: name one with --carrier SLUG")
    return carrier_by_slug(session, slugs[0])
