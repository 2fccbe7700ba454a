"""Check a waybill number, a label token or a document number from a shell."""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated

import typer

from parcelguard.cli.apps import UserError, id_app, waybill_app


@waybill_app.command("check")
def waybill_check(
    number: Annotated[str, typer.Argument(help="A waybill number (spaces, hyphens and lower case are fine), or "
                                               "the token decoded from a label's QR code.")],
    prefix: Annotated[str | None, typer.Option(help="The carrier prefix it must have, e.g. DE.")] = None,
    case: Annotated[str | None, typer.Option(help="HQ security: resolve the label through the server's gate "
                                                  "(purpose investigation) under this open case id.")] = None,
    server: Annotated[str, typer.Option(envvar="PARCELGUARD_SERVER", help="The carrier platform's URL.")]
    = "http://127.0.0.1:8000",
    username: Annotated[str | None, typer.Option(envvar="PARCELGUARD_USERNAME",
                                                 help="An HQ security account (password: PARCELGUARD_PASSWORD "
                                                      "or asked).")] = None,
) -> None:
    """Check a number's shape and Damm check digit (no key, no database): `valid NUMBER` or `invalid CODE`.
    A label token's shape is checked likewise (`valid-token`). With `--case`, HQ security finds the
    shipment of a found label through the server: the read is logged in the carrier's audit log."""
    from parcelguard.crypto import tokens
    from parcelguard.waybills import numbers

    is_token = len(number.strip()) == tokens.TOKEN_LENGTH
    if is_token:
        try:
            tokens.token_id(number)
        except tokens.TokenInvalid as exc:
            print(f"invalid {exc.reason}")
            raise typer.Exit(1) from None
        reference = {"label_token": number.strip()}
    else:
        result = numbers.check(number, prefix=prefix.upper() if prefix else None)
        if result.waybill is None:
            print(f"invalid {result.reason}")
            raise typer.Exit(1)
        reference = {"waybill_no": result.waybill.value}
    if case is None:
        print("valid-token" if is_token else f"valid {reference['waybill_no']}")
        return
    _resolve_label(server, username, case, reference)


def _resolve_label(server: str, username: str | None, case: str, reference: dict[str, str]) -> None:
    """Sign in as HQ security, resolve through `POST /api/v1/labels:resolve`, sign out; print the answer."""
    import httpx

    if not username:
        raise UserError("resolving needs an HQ security account: --username or PARCELGUARD_USERNAME")
    password = os.environ.get("PARCELGUARD_PASSWORD") or typer.prompt("password", hide_input=True)
    with httpx.Client(base_url=server.rstrip("/"), timeout=30) as client:
        signed = client.post("/api/v1/auth/token", data={"username": username, "password": password})
        if signed.status_code != 200:
            raise UserError(f"sign-in refused: {signed.json().get('code', signed.status_code)}")
        headers = {"Authorization": f"Bearer {signed.json()['access_token']}"}
        try:
            answer = client.post("/api/v1/labels:resolve", json={"case_id": case, **reference}, headers=headers)
        finally:
            client.post("/api/v1/auth/logout", headers=headers)
    body = answer.json()
    if answer.status_code != 200:
        print(f"refused {body.get('reason') or body.get('code')}: {body.get('detail', '')}")
        raise typer.Exit(1)
    print(json.dumps(body, ensure_ascii=False, indent=2))


@id_app.command("check")
def id_check(
    number: Annotated[str, typer.Argument(help="The document number; - reads it from standard input, which keeps "
                                               "it out of the shell history.")],
    doc_type: Annotated[str | None, typer.Option(
        "--type", metavar="TYPE",
        help="resident_id, temporary_resident_id, hmt_residence_permit, foreign_permanent_resident_id, "
             "hk_macao_travel_permit, taiwan_travel_permit, military_officer_id, armed_police_officer_id, "
             "foreign_passport or uscc; taken from the number's shape when left out.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object instead of a line.")] = False,
) -> None:
    """Check a document number (no database): `valid TYPE MASKED` or `invalid REASON`. Never prints the number."""
    import json

    from parcelguard.identity import documents

    if number == "-":
        number = sys.stdin.readline().rstrip("\r\n")
    try:
        document = documents.parse(number, doc_type)
    except documents.InvalidDocument as exc:
        print(json.dumps({"valid": False, "reason": exc.code}) if as_json else f"invalid {exc.code}")
        raise typer.Exit(1) from None
    if as_json:
        print(json.dumps({"valid": True, "type": document.doc_type.value, "masked": str(document.masked)},
                         ensure_ascii=False))
    else:
        print(f"valid {document.doc_type.value} {document.masked}")
