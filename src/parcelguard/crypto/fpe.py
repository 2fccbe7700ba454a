"""FF1 (NIST SP 800-38G, §6.2, Algorithm 7), radix 10: a format-preserving permutation of integers of
a fixed number of decimal digits under an AES key and a tweak. Used for waybill numbers.

Written by hand (about 60 lines) because no well-kept Python package does FF1 with pyca
`cryptography`; the tests reproduce NIST's published FF1 samples. AES appears as pyca's ECB mode on
single 16-byte blocks: that is how pyca exposes the raw block cipher, which FF1's PRF (a CBC-MAC)
is built from. Nothing is encrypted with ECB as a mode.
"""

from __future__ import annotations

import threading

from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

ROUNDS = 10  # SP 800-38G §6.2: FF1 has 10 rounds


class FF1Decimal:
    """FF1 (NIST SP 800-38G §6.2) with radix 10 on integers of `length` digits, `[0, 10**length)`.

    The standard asks for a domain of at least 10^6 (length ≥ 6); shorter lengths are accepted so
    the tests can check bijectivity exhaustively on the same code. Thread-safe: each thread has its
    own AES context.
    """

    def __init__(self, key: bytes, *, length: int, tweak: bytes = b"") -> None:
        if not isinstance(key, bytes) or len(key) not in (16, 24, 32):
            raise ValueError("an FF1 key is 16, 24 or 32 bytes")
        u = length // 2
        v = length - u
        b = ((10**v).bit_length() + 7) // 8  # ⌈⌈v·log2 10⌉ / 8⌉: 10^v is never a power of two
        d = 4 * ((b + 3) // 4) + 4
        if u < 1 or d > 16:  # d > 16 would need more than one AES block per round; 12 digits need 8
            raise ValueError("FF1Decimal supports lengths of 2 to 56 digits")
        self.length = length
        self._cipher = Cipher(algorithms.AES(key), modes.ECB())
        self._local = threading.local()
        self._d = d
        self._mod_v = 10**v
        t = len(tweak)
        # P (Algorithm 7, step 5): [1]¹ [2]¹ [1]¹ [radix]³ [10]¹ [u mod 256]¹ [n]⁴ [t]⁴
        p = bytes([1, 2, 1]) + (10).to_bytes(3, "big") + bytes([10, u % 256]) + length.to_bytes(4, "big")
        p += t.to_bytes(4, "big")
        # P || Q with Q = T || 0^((-t-b-1) mod 16) || [i]¹ || [NUM(B)]^b: all but the last b + 1
        # bytes are the same in every round, so CBC-MAC them once and keep the chaining value.
        fixed = p + tweak + bytes((-t - b - 1) % 16)
        head, tail = fixed[: len(fixed) - (15 - b)], fixed[len(fixed) - (15 - b):]
        aes = self._aes()
        chain = bytes(16)
        for start in range(0, len(head), 16):
            chain = aes.update(bytes(x ^ y for x, y in zip(chain, head[start:start + 16], strict=True)))
        base = int.from_bytes(chain, "big") ^ (int.from_bytes(tail, "big") << (8 * (b + 1)))
        # Round i: the last block is base ^ (i << 8b) ^ NUM(B); m = u when i is even, else v.
        self._rounds = tuple((base ^ (i << (8 * b)), 10**u if i % 2 == 0 else 10**v) for i in range(ROUNDS))

    def _aes(self) -> CipherContext:
        aes = getattr(self._local, "aes", None)
        if aes is None:
            aes = self._local.aes = self._cipher.encryptor()
        return aes

    def encrypt(self, x: int) -> int:
        aes, d = self._aes(), self._d
        a, b = divmod(x, self._mod_v)
        for block, mod in self._rounds:
            y = int.from_bytes(aes.update((block ^ b).to_bytes(16, "big"))[:d], "big")
            a, b = b, (a + y) % mod
        return a * self._mod_v + b

    def decrypt(self, x: int) -> int:
        aes, d = self._aes(), self._d
        a, b = divmod(x, self._mod_v)
        for block, mod in reversed(self._rounds):
            y = int.from_bytes(aes.update((block ^ a).to_bytes(16, "big"))[:d], "big")
            a, b = (b - y) % mod, a
        return a * self._mod_v + b

    def __repr__(self) -> str:
        return f"FF1Decimal(length={self.length})"
