"""A carrier replaces its upload signing key, on both engines, over real HTTP: `parcelguard uploader rotate-key`
prints the new key's registration and logs the rotation; until the regulator registers it, batches wait (and
are refused, nothing lost); once it is registered and the old key revoked, the backlog drains, each record
stored once, and a batch under the old key is refused."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from sqlalchemy import select

from parcelguard.audit.models import AuditEntry
from parcelguard.core import db
from parcelguard.core.config import encode_root_key
from parcelguard.crypto.keyring import Keyring
from parcelguard.regulator import flows
from parcelguard.regulator.platform import carriers
from parcelguard.regulator.platform import service as platform
from parcelguard.regulator.uploader import Uploader
from parcelguard.web.regulator_app import create_regulator_app
from tests.conftest import TEST_ROOT_KEY
from tests.regulator.test_upload_faults import RECEIPT_KEYS, ROOT, Feed, feed  # noqa: F401  (feed: a fixture)
from tests.servers import app_in_thread
from tests.tenants import writing


def test_a_new_upload_key_is_registered_then_the_old_one_revoked_and_nothing_is_lost(feed: Feed) -> None:  # noqa: F811
    with writing(feed.engine) as s:
        old = flows.registration(db_session=s, keyring=feed.keyring, carrier_slug=feed.tenant.slug)
    # an uploader process that has signed before keeps its key in its keyring's cache
    running = Keyring(TEST_ROOT_KEY, cache_ttl_seconds=0)
    with writing(feed.engine) as s:
        before = running.signing_key(db_session=s, carrier_id=feed.tenant.carrier_id,
                                     purpose=flows.UPLOAD_KEY_PURPOSE).public_key
    env = {**os.environ, "PARCELGUARD_DATABASE_URL": feed.carrier_url,
           "PARCELGUARD_ROOT_KEY": encode_root_key(TEST_ROOT_KEY)}
    done = subprocess.run([str(Path(sys.executable).parent / "parcelguard"), "uploader", "rotate-key",
                           "--carrier", feed.tenant.slug], env=env, cwd=ROOT, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    new = json.loads(done.stdout)
    assert new["key_id"] != old["key_id"] and {k: new[k] for k in ("code", "carrier_id")} == {
        k: old[k] for k in ("code", "carrier_id")}
    assert new["key_id"] in done.stderr and "regulator carriers add" in done.stderr
    with feed.engine.connect() as conn:
        logged = conn.scalars(select(AuditEntry.subject).where(AuditEntry.purpose == "key_rotate")).all()
    assert logged == ["keys:signing:regulator_upload:v2"]

    feed.take_in(4)
    # ... and signs with the new key once its cache lapses (here at once; 60 s in production)
    with writing(feed.engine) as s:
        after = running.signing_key(db_session=s, carrier_id=feed.tenant.carrier_id, purpose=flows.UPLOAD_KEY_PURPOSE)
    assert after.public_key != before and base64.b64encode(after.public_key).decode() == new["public_key"]
    with app_in_thread(create_regulator_app(feed.platform_settings())) as url:
        uploader = Uploader(sessionmaker=db.make_sessionmaker(feed.engine), url=url, receipt_keys=RECEIPT_KEYS,
                            keyring=running, linger=0.05, timeout=5,
                            backoff_max=0.5)
        try:
            [refused] = uploader.run_once(force=True)  # the regulator does not know the new key yet
            assert refused.delivered == 0 and refused.error is not None
            assert feed.state() == (4, 4, 0, 0)
            with db.make_sessionmaker(feed.platform_engine)() as s, s.begin():
                platform.register_carrier(db_session=s, code=new["code"], carrier_uuid=uuid.UUID(new["carrier_id"]),
                                          name=new["name"], public_key=base64.b64decode(new["public_key"]))
                carriers.revoke(db_session=s, code=old["code"], key_id=old["key_id"], official_id=None,
                                reason="密钥轮换")
            [sent] = uploader.run_once(force=True)
        finally:
            uploader.close()
    assert (sent.records, sent.delivered, sent.error) == (4, 4, None)
    assert feed.state() == (0, 0, 4, 4)
