"""The enterprise console's tables, on a declarative base of their own: its database holds only these.

A company (企业) is the tenant: its employees sign in, its carrier connections are the carriers it has a contract
with (the adapter to use, where the carrier's API is, the company's credentials there, encrypted under the
platform's key), and each connection has versions of its agreed rate table. No personal data yet: orders and
their recipients come with the orders (issue 16's next part).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from parcelguard.core.db import NAMING_CONVENTION, UTCDateTime


class EnterpriseBase(DeclarativeBase):
    """The console's own metadata (never the carrier's `core.db.Base`): its migrations see only these."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}  # noqa: RUF012  (SQLAlchemy reads it from the class)


class Company(EnterpriseBase):
    __tablename__ = "companies"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class Employee(EnterpriseBase):
    """An employee of a company: `admin` configures carriers and rate tables; `shipper` quotes and ships."""

    __tablename__ = "employees"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    company_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("companies.id"), index=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool]
    created_at: Mapped[datetime]


class EmployeeToken(EnterpriseBase):
    """A bearer token: only its SHA-256 digest is kept."""

    __tablename__ = "employee_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    employee_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("employees.id"), index=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class EmployeeLoginThrottle(EnterpriseBase):
    """Failed sign-ins per username (whether or not an employee has it), as the other platforms keep them."""

    __tablename__ = "employee_login_throttle"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[datetime | None]
    locked_until: Mapped[datetime | None]


class CarrierConnection(EnterpriseBase):
    """A carrier the company has a contract with: how to reach it (`adapter`, `base_url`) and the company's
    credentials there (AES-GCM under the platform's key, bound to this row: `keys.EnterpriseKeys`)."""

    __tablename__ = "carrier_connections"
    __table_args__ = (UniqueConstraint("company_id", "code"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    company_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("companies.id"))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    adapter: Mapped[str] = mapped_column(String(32))
    base_url: Mapped[str] = mapped_column(String(500))
    credentials: Mapped[bytes] = mapped_column(LargeBinary)
    active: Mapped[bool]
    created_at: Mapped[datetime]


class RateTableVersion(EnterpriseBase):
    """One version of a connection's agreed rate table, in force from `effective_from` (a Beijing date) until the
    next version's: the parsed table as JSON (`rate_tables.dump`), and the file's SHA-256 and name."""

    __tablename__ = "rate_table_versions"
    __table_args__ = (UniqueConstraint("connection_id", "effective_from"), Index(None, "company_id"))

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    company_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("companies.id"))
    connection_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carrier_connections.id"))
    version: Mapped[str] = mapped_column(String(64))
    effective_from: Mapped[date]
    lanes: Mapped[int]
    surcharges: Mapped[int]
    body: Mapped[str] = mapped_column(Text)
    file_name: Mapped[str] = mapped_column(String(200))
    file_sha256: Mapped[bytes] = mapped_column(LargeBinary(32))
    imported_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("employees.id"))
    imported_at: Mapped[datetime]


class Order(EnterpriseBase):
    """A shipment the company sent through the console: which carrier, what it cost, and what the carrier answered.
    The parties' fields are AES-256-GCM ciphertexts under the console's key, each bound to its order and field
    (`keys.EnterpriseKeys.seal_field`); the recipient's name and phone are findable only by their keyed blind
    indexes, per company (`keys.EnterpriseKeys.blind_index`); what a list shows is masked."""

    __tablename__ = "orders"
    __table_args__ = (
        Index(None, "company_id", "created_at"),
        Index(None, "company_id", "waybill_no"),
        Index(None, "company_id", "recipient_phone_index"),
        Index(None, "company_id", "recipient_name_index"),
        Index(None, "import_id", "import_row"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    company_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("companies.id"))
    connection_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carrier_connections.id"))
    import_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("order_imports.id"))
    import_row: Mapped[int | None]  # its row in the imported file: an import's rows are its orders and refusals
    # pending (written, not yet answered by the carrier), created, failed (the carrier refused it), cancelled
    status: Mapped[str] = mapped_column(String(16))
    failure_code: Mapped[str | None] = mapped_column(String(64))
    carrier_shipment_id: Mapped[str | None] = mapped_column(String(64))
    waybill_no: Mapped[str | None] = mapped_column(String(32))
    price_fen: Mapped[int | None]
    weight_g: Mapped[int]
    origin_province: Mapped[str] = mapped_column(String(16))
    destination_province: Mapped[str] = mapped_column(String(16))
    destination_city: Mapped[str] = mapped_column(String(32))
    recipient_name_masked: Mapped[str] = mapped_column(String(64))
    recipient_phone_tail: Mapped[str] = mapped_column(String(4))
    recipient_name_index: Mapped[bytes] = mapped_column(LargeBinary(17))
    recipient_phone_index: Mapped[bytes] = mapped_column(LargeBinary(17))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)  # the parties and items, as one sealed JSON document
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("employees.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class OrderImport(EnterpriseBase):
    """A file of orders imported at once (bulk orders): its counters are the progress the page shows. `queued`
    (written, not yet sent), `sending` (chunks going to the carrier; left so when it stopped answering), `done`
    (nothing pending). `rows` = `accepted` + `refused`; `sent` = `created` + `failed`."""

    __tablename__ = "order_imports"
    __table_args__ = (Index(None, "company_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    company_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("companies.id"))
    connection_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carrier_connections.id"))
    file_name: Mapped[str] = mapped_column(String(200))
    file_sha256: Mapped[bytes] = mapped_column(LargeBinary(32))
    rows: Mapped[int]
    accepted: Mapped[int]
    refused: Mapped[int]
    sent: Mapped[int]
    created: Mapped[int]
    failed: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("employees.id"))
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class OrderImportRow(EnterpriseBase):
    """A data row of an imported file that the console refused, and why: `errors` (JSON: row, column letter,
    header, code; never a value). A row it took is its order (`Order.import_row`), whose state is the row's."""

    __tablename__ = "order_import_rows"

    import_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("order_imports.id"), primary_key=True)
    row_number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    errors: Mapped[str] = mapped_column(Text)


class AccessEntry(EnterpriseBase):
    """The console's access log: every search of orders and every reveal of an order's parties, hash-chained per
    company (`hash` = SHA-256 of the previous entry's hash and this entry's canonical fields), written before
    the answer. It holds the query's kind and a keyed digest of it, never the query."""

    __tablename__ = "access_log"
    __table_args__ = (UniqueConstraint("company_id", "seq"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    company_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("companies.id"))
    seq: Mapped[int]
    at: Mapped[datetime]
    employee_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("employees.id"))
    action: Mapped[str] = mapped_column(String(16))  # search | reveal
    kind: Mapped[str] = mapped_column(String(16))  # waybill | phone | name | order
    subject: Mapped[str] = mapped_column(String(64))  # a keyed digest of the query (hex), or the order's id
    purpose: Mapped[str] = mapped_column(String(32))
    found: Mapped[int]
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))
