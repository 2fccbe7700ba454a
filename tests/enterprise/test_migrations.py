"""The console's schema comes from its own migrations and its models agree with them, on both engines; and an import
made before enterprise_0004 (a result row per accepted order) reads the same after it (the order keeps its row)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from parcelguard.core import db
from parcelguard.core.auth import Actor, Role
from parcelguard.core.clock import now
from parcelguard.enterprise.platform import bulk, connections, employees, rate_tables
from parcelguard.enterprise.platform.bulk_parse import Sender
from parcelguard.enterprise.platform.keys import EnterpriseKeys
from parcelguard.enterprise.platform.migrations import MIGRATIONS_DIR
from parcelguard.enterprise.platform.models import EnterpriseBase
from parcelguard.enterprise.rates.model import beijing_date
from tests.enterprise.conftest import TEST_ENTERPRISE_ROOT_KEY

HEADER = "收件人,收件电话,收件省,收件市,收件区,收件地址,重量(kg),物品类别,物品名称,数量\n"
TABLE = "始发省,目的省,首重(kg),首重价格(元),续重单位(kg),续重价格(元),最快时效(天),最慢时效(天)\n北京,上海,1,8,1,2,1,3\n"
SENDER = Sender(name="仓库联系人", phone="13922223333", address="北京市朝阳区仓储路1号", province="北京")


def test_the_models_and_the_migrations_agree(fresh_url: str) -> None:
    db.upgrade(fresh_url, script_location=MIGRATIONS_DIR)
    engine = db.make_engine(fresh_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
            assert compare_metadata(ctx, EnterpriseBase.metadata) == []
        assert db.current_revision(engine) == db.head_revision(MIGRATIONS_DIR)
    finally:
        engine.dispose()


def test_the_migrations_go_down_to_nothing_and_up_again(fresh_url: str) -> None:
    db.upgrade(fresh_url, script_location=MIGRATIONS_DIR)
    command.downgrade(db.alembic_config(fresh_url, MIGRATIONS_DIR), "base")
    engine = db.make_engine(fresh_url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        db.upgrade(fresh_url, script_location=MIGRATIONS_DIR)
        assert set(EnterpriseBase.metadata.tables) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _import_with_a_refused_row(url: str) -> uuid.UUID:
    """An import of 4 rows, the third refused (its phone), its orders pending."""
    engine = db.make_engine(url)
    sessions = db.make_sessionmaker(engine)
    keys = EnterpriseKeys(root_key=TEST_ENTERPRISE_ROOT_KEY)
    try:
        with sessions() as s, s.begin():
            company = employees.add_company(db_session=s, code="mig", name="迁移企业")
            shipper = employees.add_employee(db_session=s, company_id=company.id, username="mig-shipper",
                                             display_name="shipper", password="correct horse battery",
                                             role="shipper")
            connection = connections.add(db_session=s, keys=keys, company_id=company.id, code="ZTO", name="ZTO",
                                         adapter="parcelguard", base_url="http://127.0.0.1:9",
                                         credentials=connections.Credentials(username="x", password="y"))
            s.flush()
            rate_tables.import_file(db_session=s, company_id=company.id, connection_id=connection.id,
                                    data=TABLE.encode(), file_name="t.csv", version="v1", surcharges=None,
                                    effective_from=beijing_date(now()) - timedelta(days=1), imported_by=shipper.id)
        actor = Actor(user_id=shipper.id, username="mig-shipper", role=Role.ENTERPRISE, carrier_id=None,
                      station_id=None, token_id=uuid.uuid4(), company_id=company.id)
        rows = [f"收件人{i},{'call me' if i == 2 else f'1370000000{i}'},上海,上海市,浦东新区,某路{i}号,1,clothing,书,1\n"
                for i in range(4)]
        done = bulk.import_file(sessionmaker=sessions, keys=keys, actor=actor, connection_id=connection.id,
                                sender=SENDER, file_name="o.csv", data=(HEADER + "".join(rows)).encode())
        assert (done.job.accepted, done.job.refused) == (3, 1)
        return done.job.id
    finally:
        engine.dispose()


def _rows(url: str, import_id: uuid.UUID) -> list[tuple[int, str, bool, list]]:
    engine = db.make_engine(url)
    try:
        with db.make_sessionmaker(engine)() as s:
            company_id = s.execute(text("SELECT company_id FROM order_imports")).scalar_one()
            return [(r.row_number, r.status, r.order is not None, [e["code"] for e in r.errors]) for r in bulk.rows(
                db_session=s, company_id=uuid.UUID(str(company_id)), import_id=import_id, status=None, offset=0,
                limit=100)]
    finally:
        engine.dispose()


def test_an_import_reads_the_same_after_going_down_to_0003_and_up_again(fresh_url: str) -> None:
    db.upgrade(fresh_url, script_location=MIGRATIONS_DIR)
    import_id = _import_with_a_refused_row(fresh_url)
    before = _rows(fresh_url, import_id)
    assert before == [(2, "pending", True, []), (3, "pending", True, []), (4, "refused", False, ["phone_format"]),
                      (5, "pending", True, [])]
    command.downgrade(db.alembic_config(fresh_url, MIGRATIONS_DIR), "enterprise_0003")
    engine = db.make_engine(fresh_url)
    try:
        with engine.connect() as conn:  # 0003 kept a result row per row, the accepted ones naming their order
            kept = conn.execute(text("SELECT row_number, status, order_id IS NOT NULL FROM order_import_rows "
                                     "ORDER BY row_number")).all()
        assert [tuple(r) for r in kept] == [(2, "pending", True), (3, "pending", True), (4, "refused", False),
                                            (5, "pending", True)]
    finally:
        engine.dispose()
    db.upgrade(fresh_url, script_location=MIGRATIONS_DIR)
    assert _rows(fresh_url, import_id) == before
