"""The SQL ledger and warehouse blocks: no password in a URL, and connection failures that name the block, mask
the password and tell a refused login (permanent) from an unreachable database (retried). Real PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from postgres_server import PASSWORD, ROLE, password_login
from pydantic import SecretStr, ValidationError

from blocks import load_block
from blocks.database import LoginRefused
from blocks.ledger import LedgerFileMissing, LedgerUnreachable, SqlLedgerSource
from blocks.warehouse import ArWarehouse, WarehouseUnreachable
from tasks.ledger.entities import ENTITIES
from tasks.ledger.sources import ledger_reader
from tasks.ledger.sync import sync_entity

pytestmark = pytest.mark.xdist_group("test_database_blocks")  # one worker builds the module's fixtures once


@pytest.fixture(scope="module")
def password_role(postgres_url):
    with password_login(postgres_url) as url:
        yield url


@pytest.mark.parametrize("block", [SqlLedgerSource, ArWarehouse])
@pytest.mark.parametrize("url", ["postgresql+psycopg://ar:s3cret-Pa55@erp-db/erp",
                                 "postgresql+psycopg://ar@erp-db/erp?password=s3cret-Pa55"])
def test_a_password_inside_the_url_is_refused_and_never_repeated(block, url):
    with pytest.raises(ValidationError) as err:
        block(url=url)
    assert "url contains a password" in str(err.value) and "put it in the password field" in str(err.value)
    assert "s3cret" not in str(err.value)


@pytest.mark.parametrize("url, reason", [
    ("postgresql+psycopg//ar@erp-db/erp", "Could not parse SQLAlchemy URL"),
    ("postgress://ar@erp-db/erp", "Can't load plugin: sqlalchemy.dialects:postgress"),
])
def test_a_url_typo_is_refused_naming_the_field(url, reason):
    with pytest.raises(ValidationError) as err:
        ArWarehouse(url=url)
    assert f"url is not a SQLAlchemy URL such as postgresql+psycopg://user@host/database ({reason})" in str(err.value)


def _saved(block, prefix: str):
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    block.save(name)
    return load_block(f"{block.get_block_type_slug()}/{name}"), f"block {block.get_block_type_slug()}/{name}"


def test_an_unreachable_warehouse_names_the_block_with_the_password_masked(prefect_api):
    store, label = _saved(ArWarehouse(url="postgresql+psycopg://ar@127.0.0.1:9/wh", password=SecretStr("s3cret-Pa55")),
                          "down")
    with pytest.raises(WarehouseUnreachable) as err:
        store.engine()
    message = str(err.value)
    assert "AR warehouse postgresql+psycopg://ar:***@127.0.0.1:9/wh is unreachable" in message
    assert f"the URL and password in {label} are right" in message
    assert "s3cret" not in message and err.value.__cause__ is None


def test_a_rejected_password_is_a_refused_login_not_an_unreachable_database(prefect_api, password_role, tmp_path):
    wrong = SecretStr("wrong-Pa55word")
    source, source_label = _saved(SqlLedgerSource(source_name="erp-prod", url=password_role, password=wrong), "erp")
    with pytest.raises(LoginRefused) as err:
        ledger_reader(source).extract("customers", None, [])
    assert not isinstance(err.value, LedgerUnreachable)  # the sync retries only LedgerUnreachable
    message = str(err.value)
    masked = sa.make_url(password_role).set(password="x").render_as_string(hide_password=True)
    assert f"ledger source erp-prod ({masked}) refused the login: connection failed" in message
    assert f'password authentication failed for user "{ROLE}"' in message
    assert f"Correct the user in the URL or the password in {source_label}; this is not retried" in message
    assert "wrong-Pa55" not in message

    store, store_label = _saved(ArWarehouse(url=password_role, password=wrong), "wh")
    with pytest.raises(LoginRefused, match=f"AR warehouse .* refused the login: .*password authentication failed.* "
                                           f"{store_label}"):
        store.engine()

    right = ArWarehouse(url=password_role, password=SecretStr(PASSWORD)).engine()  # the role itself is fine: migrated
    with right.connect() as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM schema_migrations").scalar() > 0
    right.dispose()


def test_a_sqlite_ledger_file_that_does_not_exist_is_an_error_not_a_new_empty_ledger(warehouse, tmp_path):
    missing = tmp_path / "typo-erp.sqlite"
    with pytest.raises(LedgerFileMissing, match=f"the SQLite file {missing} does not exist; correct the url"):
        sync_entity(SqlLedgerSource(url=f"sqlite:///{missing}"), warehouse, ENTITIES[0], "run-1")
    assert not missing.exists()
