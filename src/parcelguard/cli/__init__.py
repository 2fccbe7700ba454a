"""The `parcelguard` command: set up, run and operate the platform.

One module per group of commands (`platform`, `accounts`, `keys`, `audit`, `checks`, `uploader`,
`regulator`, `numbers`, `blacklist`, `detect`); each registers its commands on the Typer apps of `apps` when
imported.
"""

from __future__ import annotations

import sys

from parcelguard.cli import (  # noqa: F401
    accounts,
    audit,
    blacklist,
    checks,
    detect,
    enterprise,
    keys,
    numbers,
    platform,
    regulator,
    retention,
    uploader,
)
from parcelguard.cli.apps import UserError, app
from parcelguard.cli.context import ensure_dev_regulator_keys, ensure_dev_root_key
from parcelguard.core.config import ConfigError
from parcelguard.core.errors import DomainError

__all__ = ["UserError", "app", "ensure_dev_regulator_keys", "ensure_dev_root_key", "main"]


def main() -> None:
    """Entry point: operator mistakes are one line on stderr, never a traceback."""
    try:
        app()
    except ConfigError as exc:
        print(f"parcelguard: configuration error: {exc}", file=sys.stderr)
        sys.exit(2)
    except (UserError, DomainError) as exc:
        print(f"parcelguard: {exc}", file=sys.stderr)
        sys.exit(1)
