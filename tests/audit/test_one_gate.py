"""Promise 3 as a property of the source: the gate is the only code that opens a personal field.

The keyring (`crypto/`) holds the primitives; outside it, exactly one function may call a decrypting
API: `audit.service.reveal_many` (which `reveal` calls for one subject), after it has logged the decision. A new call anywhere else fails here.

The regulator's platform is another service with keys of its own: `regulator/platform/keys.py` is its
keyring, and the one function there that opens a stored record, `decrypt_record`, may be called only
by the platform's logged lookup (`service._logged_lookup`, after it appended to the lookup log).

The enterprise console is a third service: `enterprise/platform/keys.py` is its keyring. An order's sealed parties
open in two places only: `orders.parties` (which `search.reveal` calls after appending to the access log) and
`orders.shipment_of` (the parcel handed to the carrier's adapter, the one place they go); a connection's sealed
credentials open only in `connections.credentials_of`, to sign in at the carrier.
"""

from __future__ import annotations

import ast
from pathlib import Path

import parcelguard

SRC = Path(parcelguard.__file__).parent
# Calls that turn a ciphertext back into plaintext, by the name they are called with.
DECRYPTING = {"decrypt", "field_opener", "unwrap", "open_sealed", "unseal", "decrypt_record", "open_order",
              "open_credentials"}
# Modules that reach for raw ciphers instead of the keyring.
RAW_CIPHERS = ("cryptography.hazmat.primitives.ciphers", "cryptography.hazmat.primitives.keywrap")
GATE = ("audit/service.py", "reveal_many")
# the carrier platform's, the regulator platform's, the enterprise console's
KEYRINGS = ("crypto/", "regulator/platform/keys.py", "enterprise/platform/keys.py")
PLATFORM_GATE = ("regulator/platform/service.py", "_logged_lookup")
CONSOLE_GATES = [("enterprise/platform/connections.py", "credentials_of"), ("enterprise/platform/orders.py", "parties"),
                 ("enterprise/platform/orders.py", "shipment_of")]
# Inverse permutations that are not personal data, each with its reason.
NOT_PERSONAL = {
    ("waybills/numbers.py", "counter_of"),  # FF1 inverse: a waybill number back to its database counter
}


def _called_name(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    if isinstance(node.func, ast.Name):
        return node.func.id
    return None


class _Calls(ast.NodeVisitor):
    """Collects the innermost enclosing function of every decrypting call."""

    def __init__(self, module: str) -> None:
        self.module, self.stack, self.found = module, ["<module>"], set()

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.stack.append(node.name)
        self.generic_visit(node)
        self.stack.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Call(self, node: ast.Call) -> None:
        if _called_name(node) in DECRYPTING:
            self.found.add((self.module, self.stack[-1]))
        self.generic_visit(node)


def decrypting_calls(source: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """(module path, enclosing function) of every decrypting call outside crypto/."""
    if source is None:
        source = {p.relative_to(SRC).as_posix(): p.read_text() for p in SRC.rglob("*.py")}
    found: set[tuple[str, str]] = set()
    for rel, text in source.items():
        if rel.startswith(KEYRINGS):
            continue
        visitor = _Calls(rel)
        visitor.visit(ast.parse(text, filename=rel))
        found |= visitor.found
    return sorted(found)


def test_only_the_gate_decrypts() -> None:
    assert [c for c in decrypting_calls() if c not in NOT_PERSONAL] == sorted([GATE, PLATFORM_GATE, *CONSOLE_GATES])


def test_no_module_outside_crypto_uses_a_raw_cipher() -> None:
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith(KEYRINGS):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else (
                [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            if any(n.startswith(RAW_CIPHERS) for n in names):
                offenders.append(rel)
    assert offenders == []


def test_the_scan_would_see_a_new_decrypt_call() -> None:
    """The scan is not vacuous: a call planted in another module, or elsewhere in the gate's, is found."""
    planted = {
        "tracking/service.py": "def lookup(k, s):\n    return k.decrypt(db_session=s, ciphertext=b'', aad=None)\n",
        "audit/service.py": "def reveal():\n    pass\n\ndef helper(o):\n    return o.field_opener(1)\n",
    }
    assert decrypting_calls(planted) == [("audit/service.py", "helper"), ("tracking/service.py", "lookup")]
