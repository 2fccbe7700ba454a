"""Sending a label to a networked thermal printer: a ZPL job over raw TCP (port 9100, "JetDirect"), the
way a station's Zebra-compatible printers take jobs. Written by hand: raw printing is a socket write, and
no maintained library does only that."""

from __future__ import annotations

import socket

from parcelguard.core.errors import ServiceUnavailable

TIMEOUT_SECONDS = 5.0


def send(address: str, job: bytes, *, timeout: float = TIMEOUT_SECONDS) -> None:
    """Write `job` to the printer at `host:port` (an IPv6 host in brackets) and close; 503
    `printer_unreachable` when it cannot be reached or stops taking the job."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout) as connection:
            connection.sendall(job)
            connection.shutdown(socket.SHUT_WR)
    except OSError:
        raise ServiceUnavailable("The label printer does not answer; check it is on and on the network.",
                                 code="printer_unreachable") from None
