"""The database: declarative base, engine, one session and one transaction per request, migrations."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Connection, DateTime, Engine, MetaData, Table, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}  # noqa: RUF012  (SQLAlchemy reads it from the class)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys and a busy timeout so it behaves like a server."""
    parsed = make_url(url)
    # A statement's values never reach an exception message, so never a log line or a traceback: they
    # may be personal data (SQLAlchemy prints them under "[parameters: ...]" otherwise).
    kwargs.setdefault("hide_parameters", True)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # Requests run on a thread pool (40 threads): keep enough connections that none is opened
        # per request.
        if "poolclass" not in kwargs:
            kwargs.setdefault("pool_size", 20)
            kwargs.setdefault("max_overflow", 20)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not pysqlite, decide when a transaction begins (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # SQLAlchemy's documented recipe for real transactions on pysqlite. A transaction that will write
    # takes the write lock up front (BEGIN IMMEDIATE): a deferred one that read first cannot write
    # once another writer has committed meanwhile, and fails at once ("database is locked") instead
    # of waiting its turn.
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")


_WRITE = "parcelguard_write"


def begin_write(session: Session) -> None:
    """Start `session`'s transaction as one that will write: on SQLite it waits for the write lock now,
    so reading first and writing later cannot fail under concurrency. Call before the first statement."""
    session.connection(execution_options={_WRITE: True})


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


def bulk_insert(session: Session, table: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Insert many rows of one table in the session's transaction: by COPY on PostgreSQL (executemany
    sends one INSERT per row and costs several times as much), by executemany on SQLite. Every row has
    the same keys; no Python-side column default applies, so give every column that needs a value."""
    if not rows:
        return
    table = getattr(table, "__table__", table)
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        _executemany(connection, table, rows)
        return
    columns = list(rows[0])
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    driver = connection.connection.driver_connection  # psycopg: the same connection, the same transaction
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])


def _executemany(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """The driver's executemany on the session's own connection, each value through its column type's bind
    processor as SQLAlchemy's insert would, but a value the row before held (the same object: an import's company,
    its time) processed once. Written by hand because SQLAlchemy spends twice the driver's time building and
    processing each row's parameters (bench/enterprise_import.py)."""
    dialect = connection.dialect
    columns = list(rows[0])
    processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns]
    last: list[Any] = [object()] * len(columns)
    done: list[Any] = [None] * len(columns)
    params = []
    for row in rows:
        values = []
        for i, name in enumerate(columns):
            value = row[name]
            if value is not last[i]:
                processor = processors[i]
                last[i], done[i] = value, value if processor is None else processor(value)
            values.append(done[i])
        params.append(values)
    quote = dialect.identifier_preparer.quote
    statement = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
                 f"VALUES ({', '.join('?' * len(columns))})")  # pysqlite's paramstyle is qmark
    cursor = connection.connection.driver_connection.cursor()  # the same connection, the same transaction
    try:
        cursor.executemany(statement, params)
    finally:
        cursor.close()


_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_session(request: Request) -> Iterator[Session]:
    """One session and one transaction per request: commit at the end, roll back on any error.

    Declared with scope="function" in SessionDep, so the commit happens before the response is
    sent: a commit that fails becomes a 500, never a 200 for a write that did not happen.
    """
    session: Session = request.app.state.sessionmaker()
    try:
        if request.method not in _READ_METHODS:
            begin_write(session)
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


# -- migrations -----------------------------------------------------------------------------------

# `script_location` names another migrations folder: the regulator's platform keeps its own database and
# migrations (`parcelguard.regulator.platform.migrations`); the default is the carrier platform's.

def alembic_config(url: str, script_location: Path | str = MIGRATIONS_DIR) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def run_migrations(target_metadata: MetaData, include_name: Callable[..., bool] | None = None) -> None:
    """The body of an Alembic `env.py` (the carrier platform's and the regulator platform's share it):
    offline, or online on the connection the caller passed or on the configured URL, batch mode for
    SQLite's ALTER TABLE. `include_name`: Alembic's filter of what autogenerate compares (the regulator
    platform leaves out its monthly partitions, made at run time)."""
    from alembic import context

    config = context.config
    if context.is_offline_mode():
        context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                          literal_binds=True, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return

    def run(connection: Any) -> None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                          compare_type=True, include_name=include_name)
        with context.begin_transaction():
            context.run_migrations()

    connection = config.attributes.get("connection")
    if connection is not None:
        run(connection)
        return
    from sqlalchemy import pool

    engine = make_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.connect() as conn:
        run(conn)
        conn.commit()  # a migration that had to commit on its own (SQLite's foreign_keys pragma) leaves one open
    engine.dispose()


def upgrade(url: str, revision: str = "head", *, script_location: Path | str = MIGRATIONS_DIR) -> None:
    from alembic import command

    command.upgrade(alembic_config(url, script_location), revision)


def head_revision(script_location: Path | str = MIGRATIONS_DIR) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://", script_location)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
