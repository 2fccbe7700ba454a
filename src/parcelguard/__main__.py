"""`python -m parcelguard` is the `parcelguard` command."""

from parcelguard.cli import main

main()
