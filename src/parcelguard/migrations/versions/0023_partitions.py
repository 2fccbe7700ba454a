"""Shipments and the audit log partitioned by month on PostgreSQL (issue 17): `shipments` by RANGE of its UUIDv7
id, `audit_entries` by RANGE of `logged_at` (primary key (carrier, idx, logged_at) on both engines). A partitioned
table holds no unique index leaving out its key, so the shipments' unique (carrier, waybill number) and label
subject become plain indexes (unique by issue), and a customer's reference becomes unique by a table of its own,
`shipment_references`, written by a trigger in the shipment's own INSERT (both engines).

PostgreSQL: the foreign keys to the table are dropped, the table renamed, the partitioned one made LIKE it (same
columns and defaults), a partition made for this month and the next two (and, for the log, every month with rows)
and a DEFAULT one; the rows copied, the old table dropped, the indexes, the table's own foreign keys and those to
it made again as they were (read from the catalogue). SQLite: batch mode. Downgrade goes back, rows kept.

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from parcelguard.core.ids import uuid7_floor

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# unique on an ordinary table -> a plain index on the partitioned one (name, columns, where)
_SHIPMENT_UNIQUES = (("uq_shipments_carrier_id_waybill_no", "ix_shipments_carrier_id_waybill_no",
                      ["carrier_id", "waybill_no"], None),
                     ("uq_shipments_label_subject", "ix_shipments_label_subject", ["label_subject"], None),
                     ("uq_shipments_customer_reference", "ix_shipments_customer_reference",
                      ["carrier_id", "customer_id", "customer_reference"], "customer_reference IS NOT NULL"))
_CLAIM = ("INSERT INTO shipment_references (carrier_id, customer_id, reference, shipment_id) "
          "VALUES (NEW.carrier_id, NEW.customer_id, NEW.customer_reference, NEW.id)")
_WHEN = "NEW.customer_reference IS NOT NULL AND NEW.customer_id IS NOT NULL"


def _month(year: int, month: int, plus: int = 0) -> datetime:
    total = year * 12 + month - 1 + plus
    return datetime(total // 12, total % 12 + 1, 1, tzinfo=UTC)


def _partitions(table: str, kind: str, months: set[datetime]) -> None:
    today = datetime.now(UTC)
    months |= {_month(today.year, today.month, plus) for plus in range(3)}
    for lo in sorted(months):
        hi = _month(lo.year, lo.month, 1)
        lo_v, hi_v = (str(uuid7_floor(lo)), str(uuid7_floor(hi))) if kind == "uuid7" else (lo.isoformat(),
                                                                                            hi.isoformat())
        op.execute(f"CREATE TABLE IF NOT EXISTS {table}_y{lo.year:04d}m{lo.month:02d} PARTITION OF {table} "
                   f"FOR VALUES FROM ('{lo_v}') TO ('{hi_v}')")
    op.execute(f"CREATE TABLE IF NOT EXISTS {table}_default PARTITION OF {table} DEFAULT")


def _months_of_old_ids(conn: sa.Connection, old: str) -> set[datetime]:
    """Parcels taken in before 0023 have random (version 4) ids, which fall anywhere in the months' id ranges: a
    few in every future month's. In the DEFAULT partition they would keep that month from ever getting its
    partition (PostgreSQL refuses one whose range has rows in the DEFAULT, and foreign keys pin the rows). So when
    there are such parcels, every month until the last of them is past its retention gets its partition now (the
    longest retention a carrier keeps parcels, at least the law's 24 months, and one more): each old parcel lands
    in one, is deleted row by row with its own month long before that partition's month expires, and the
    partition is then dropped whole. A new database has none, and gets this month and the next two."""
    if conn.execute(sa.text(f"SELECT NOT EXISTS (SELECT 1 FROM {old})")).scalar():
        return set()
    kept = conn.execute(sa.text("SELECT max(months) FROM retention_settings WHERE data_class = 'waybill_record'")
                        ).scalar()
    today = datetime.now(UTC)
    return {_month(today.year, today.month, plus) for plus in range(max(int(kept or 0), 24) + 2)}


def _rebuild(table: str, primary_key: list[str], partition_by: str | None, kind: str = "",
             uniques: Sequence[tuple[str, str, list[str], str | None]] = (), unique: bool = False) -> None:
    """PostgreSQL: make `table` again, partitioned by `partition_by` (or not, when None), with its rows, indexes
    and foreign keys; the `uniques` as plain indexes (or back to unique ones, `unique`)."""
    conn = op.get_bind()
    old = f"{table}_unpartitioned"
    incoming = conn.execute(sa.text(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE confrelid = to_regclass(:t) AND contype = 'f' AND conparentid = 0"), {"t": table}).all()
    outgoing = conn.execute(sa.text(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = to_regclass(:t) AND contype = 'f'"), {"t": table}).all()
    renamed = {u[1] if unique else u[0] for u in uniques}  # made again below, the other way round
    indexes = conn.execute(sa.text(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid "
        "WHERE x.indrelid = to_regclass(:t) AND c.oid IS NULL"), {"t": table}).all()
    indexes = [(n, d) for n, d in indexes if n not in renamed]
    uniques_there = conn.execute(sa.text(
        "SELECT conname FROM pg_constraint WHERE conrelid = to_regclass(:t) AND contype IN ('p', 'u')"),
        {"t": table}).scalars().all()
    for source, name, _ in incoming:
        op.execute(f"ALTER TABLE {source} DROP CONSTRAINT {name}")
    op.rename_table(table, old)
    for name, _ in outgoing:
        op.execute(f"ALTER TABLE {old} DROP CONSTRAINT {name}")
    for name in uniques_there:
        op.execute(f"ALTER TABLE {old} DROP CONSTRAINT {name}")
    for name, _ in indexes:
        op.execute(f"DROP INDEX {name}")
    for u in uniques:
        op.execute(f"DROP INDEX IF EXISTS {u[1] if unique else u[0]}")
    by = f" PARTITION BY {partition_by}" if partition_by else ""
    op.execute(f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS){by}")
    op.execute(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY ({', '.join(primary_key)})")
    if partition_by:
        column = partition_by.split("(")[1].rstrip(")")
        months = {_month(int(y), int(m)) for y, m in conn.execute(sa.text(
            f"SELECT DISTINCT extract(year FROM {column} AT TIME ZONE 'UTC'), "
            f"extract(month FROM {column} AT TIME ZONE 'UTC') FROM {old}"))} if kind == "timestamp" else \
            _months_of_old_ids(conn, old)
        _partitions(table, kind, months)
    op.execute(f"INSERT INTO {table} SELECT * FROM {old}")
    op.execute(f"DROP TABLE {old}")
    for _, definition in indexes:  # after the rows: one build per partition, not row by row
        op.execute(definition)
    for uq, ix, columns, where in uniques:
        if unique and where is None:  # a unique constraint, as 0003 and 0006 made it
            op.create_unique_constraint(uq, table, columns)
        else:
            op.create_index(uq if unique else ix, table, columns, unique=unique,
                            postgresql_where=sa.text(where) if where else None)
    for name, definition in outgoing:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
    for source, name, definition in incoming:
        op.execute(f"ALTER TABLE {source} ADD CONSTRAINT {name} {definition}")


def _references_up() -> None:
    op.create_table("shipment_references",
                    sa.Column("carrier_id", sa.Uuid(), nullable=False),
                    sa.Column("customer_id", sa.Uuid(), nullable=False),
                    sa.Column("reference", sa.String(length=64), nullable=False),
                    sa.Column("shipment_id", sa.Uuid(), nullable=False),
                    sa.ForeignKeyConstraint(["shipment_id"], ["shipments.id"],
                                            name=op.f("fk_shipment_references_shipment_id_shipments")),
                    sa.PrimaryKeyConstraint("carrier_id", "customer_id", "reference",
                                            name=op.f("pk_shipment_references")))
    op.create_index(op.f("ix_shipment_references_shipment_id"), "shipment_references", ["shipment_id"])
    op.execute("INSERT INTO shipment_references (carrier_id, customer_id, reference, shipment_id) "
               "SELECT carrier_id, customer_id, customer_reference, id FROM shipments "
               "WHERE customer_reference IS NOT NULL AND customer_id IS NOT NULL")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE FUNCTION shipments_claim_reference() RETURNS trigger LANGUAGE plpgsql AS "
                   f"$$ BEGIN {_CLAIM}; RETURN NULL; END $$")
        op.execute(f"CREATE TRIGGER shipments_claim_reference AFTER INSERT ON shipments FOR EACH ROW "
                   f"WHEN ({_WHEN}) EXECUTE FUNCTION shipments_claim_reference()")
    else:
        op.execute(f"CREATE TRIGGER shipments_claim_reference AFTER INSERT ON shipments FOR EACH ROW "
                   f"WHEN {_WHEN} BEGIN {_CLAIM}; END")


def _references_down() -> None:
    op.execute("DROP TRIGGER IF EXISTS shipments_claim_reference" +
               (" ON shipments" if op.get_bind().dialect.name == "postgresql" else ""))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS shipments_claim_reference()")
    op.drop_table("shipment_references")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _rebuild("shipments", ["id"], "RANGE (id)", "uuid7", _SHIPMENT_UNIQUES)
        _rebuild("audit_entries", ["carrier_id", "idx", "logged_at"], "RANGE (logged_at)", "timestamp")
    else:
        _foreign_keys(False)
        with op.batch_alter_table("shipments") as batch_op:
            batch_op.drop_constraint("uq_shipments_carrier_id_waybill_no", type_="unique")
            batch_op.drop_constraint("uq_shipments_label_subject", type_="unique")
            batch_op.drop_index("uq_shipments_customer_reference")
            for _, ix, columns, where in _SHIPMENT_UNIQUES:
                batch_op.create_index(ix, columns, sqlite_where=sa.text(where) if where else None)
        with op.batch_alter_table("audit_entries") as batch_op:
            batch_op.drop_constraint("pk_audit_entries", type_="primary")
            batch_op.create_primary_key("pk_audit_entries", ["carrier_id", "idx", "logged_at"])
        _references_up()
        _foreign_keys(True)
        return
    _references_up()


def downgrade() -> None:
    _references_down()
    if op.get_bind().dialect.name == "postgresql":
        _rebuild("audit_entries", ["carrier_id", "idx"], None)
        _rebuild("shipments", ["id"], None, uniques=_SHIPMENT_UNIQUES, unique=True)
        return
    _foreign_keys(False)
    with op.batch_alter_table("audit_entries") as batch_op:
        batch_op.drop_constraint("pk_audit_entries", type_="primary")
        batch_op.create_primary_key("pk_audit_entries", ["carrier_id", "idx"])
    with op.batch_alter_table("shipments") as batch_op:
        for uq, ix, columns, where in _SHIPMENT_UNIQUES:
            batch_op.drop_index(ix)
            if where:
                batch_op.create_index(uq, columns, unique=True, sqlite_where=sa.text(where))
            else:
                batch_op.create_unique_constraint(uq, columns)
    _foreign_keys(True)


def _foreign_keys(on: bool) -> None:
    """SQLite: batch mode copies `shipments` into a new table and drops the old one, which the rows pointing at it
    would refuse; SQLite reads `foreign_keys` only outside a transaction (its documented way to rebuild a table:
    sqlite.org/lang_altertable.html §7), so the one open is committed first. The copy keeps every id."""
    conn = op.get_bind()
    if conn.in_transaction():
        conn.commit()
    driver = conn.connection.driver_connection
    if driver.in_transaction:  # type: ignore[union-attr]  (one the driver opened on its own)
        driver.commit()  # type: ignore[union-attr]
    driver.execute(f"PRAGMA foreign_keys = {'ON' if on else 'OFF'}")  # type: ignore[union-attr]  (not through
    # SQLAlchemy: it would begin a transaction first, and SQLite ignores the pragma inside one)
    if on:
        bad = conn.exec_driver_sql("PRAGMA foreign_key_check").first()
        if bad is not None:
            raise RuntimeError(f"0023 left a foreign key broken in {bad[0]}")
        conn.commit()  # what ran since the pragma; Alembic stamps the version in the next transaction
