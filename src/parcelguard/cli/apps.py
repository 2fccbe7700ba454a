"""The command's Typer apps, its consoles and the operator's error: what every command module shares."""

from __future__ import annotations

import typer
from rich.console import Console

app = typer.Typer(help="parcelguard: real-name parcel intake and privacy waybills.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="Accounts.", no_args_is_help=True)
keys_app = typer.Typer(help="Keys: rotation, re-wrapping, a new root key.", no_args_is_help=True)
carriers_app = typer.Typer(help="Carriers and their stations.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit log: export it, verify it.", no_args_is_help=True)
waybill_app = typer.Typer(help="Waybill numbers: check one.", no_args_is_help=True)
id_app = typer.Typer(help="Identity documents and organisation codes: check one.", no_args_is_help=True)
uploader_app = typer.Typer(help="The uploader: sealed real-name records to the regulator.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")
app.add_typer(carriers_app, name="carriers")
app.add_typer(audit_app, name="audit")
app.add_typer(waybill_app, name="waybill")
app.add_typer(id_app, name="id")
regulator_app = typer.Typer(help="The regulator's real-name platform: its own database, keys and server.",
                            no_args_is_help=True)
regulator_carriers_app = typer.Typer(help="Carriers registered on the regulator's platform.", no_args_is_help=True)
regulator_app.add_typer(regulator_carriers_app, name="carriers")
regulator_users_app = typer.Typer(help="Officials who sign in to the regulator's platform.", no_args_is_help=True)
regulator_app.add_typer(regulator_users_app, name="users")
regulator_retention_app = typer.Typer(help="The platform's own records past their retention: plan, destroy, records.",
                                      no_args_is_help=True)
regulator_app.add_typer(regulator_retention_app, name="retention")
regulator_lookups_app = typer.Typer(help="The log of officials' lookups.", no_args_is_help=True)
regulator_app.add_typer(regulator_lookups_app, name="lookups")
app.add_typer(regulator_app, name="regulator")
app.add_typer(uploader_app, name="uploader")
numbers_app = typer.Typer(help="Virtual numbers (隐私号): a carrier's pool and its telephony provider's secret.",
                          no_args_is_help=True)
app.add_typer(numbers_app, name="numbers")
blacklist_app = typer.Typer(help="The industry blacklist (行业安全自律平台): its own database, key and server; a "
                                 "carrier's registration on it.", no_args_is_help=True)
app.add_typer(blacklist_app, name="blacklist")
detect_app = typer.Typer(help="Detection over the audit log: run it now.", no_args_is_help=True)
app.add_typer(detect_app, name="detect")
retention_app = typer.Typer(help="Retention: what goes when, destroying it (crypto-shredding), the destruction records.",
                            no_args_is_help=True)
app.add_typer(retention_app, name="retention")
enterprise_app = typer.Typer(help="The enterprise console (企业版): its own database, key and server; companies and "
                                  "their employees.", no_args_is_help=True)
app.add_typer(enterprise_app, name="enterprise")

out = Console()
err = Console(stderr=True)



class UserError(Exception):
    """A mistake the operator can fix: printed as one line, exit code 1."""
