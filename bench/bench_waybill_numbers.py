"""Waybill numbers against their natural limit, in one process so machine noise hits both sides.

- `format(counter)` (FF1 over 12 digits + Damm) and `counter_of(number)` (parse, Damm, FF1 inverse)
  vs the raw round function times the rounds: 10 one-block AES-256 calls (goal: ≥ 100,000 numbers/s, far
  above intake's 3,000 shipments/s on 2 cores)
- `check(number)` (shape + Damm, no key), for the record

Run: .venv/bin/python bench/bench_waybill_numbers.py
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from parcelguard.crypto.fpe import ROUNDS
from parcelguard.waybills.numbers import WaybillNumbers, check

BEST_OF = 7
N = 20_000


def best_rate(fn: Callable[[int], None], n: int) -> float:
    """Operations per second of the fastest of the runs."""
    times = []
    for _ in range(BEST_OF):
        t0 = time.perf_counter()
        fn(n)
        times.append(time.perf_counter() - t0)
    return n / min(times)


def figure(name: str, value: float, ratio_to: str | None = None, ratio: float | None = None) -> None:
    print(json.dumps({"name": name, "value": round(value), "unit": "ops/s", "ratio_to": ratio_to,
                      "ratio": None if ratio is None else round(ratio, 3)}))


def main() -> None:
    key = os.urandom(32)
    numbers = WaybillNumbers(key, "DE")
    start = 10**9  # a counter some way into the sequence, as in service
    issued = [numbers.format(start + i) for i in range(N)]

    def ours_format(n: int) -> None:
        fmt = numbers.format
        for i in range(start, start + n):
            fmt(i)

    def ours_counter_of(n: int) -> None:
        counter_of = numbers.counter_of
        for number in issued[:n]:
            counter_of(number)

    def ours_check(n: int) -> None:
        for number in issued[:n]:
            check(number)

    aes = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # the raw block cipher FF1 is built on
    block = os.urandom(16)

    def raw_rounds(n: int) -> None:
        update = aes.update
        for _ in range(n):
            for _ in range(ROUNDS):
                update(block)

    # Interleave: ours, limit, ours, limit ... and keep the best of each.
    best = dict.fromkeys(("format", "counter_of", "check", "limit"), 0.0)
    for _ in range(3):
        best["format"] = max(best["format"], best_rate(ours_format, N))
        best["counter_of"] = max(best["counter_of"], best_rate(ours_counter_of, N))
        best["check"] = max(best["check"], best_rate(ours_check, N))
        best["limit"] = max(best["limit"], best_rate(raw_rounds, N))
    limit_name = f"raw_aes256_block_x{ROUNDS}"
    figure("waybill_format", best["format"], limit_name, best["format"] / best["limit"])
    figure("waybill_counter_of", best["counter_of"], limit_name, best["counter_of"] / best["limit"])
    figure("waybill_check", best["check"])
    figure(limit_name, best["limit"])


if __name__ == "__main__":
    main()
