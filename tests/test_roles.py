"""Least privilege on PostgreSQL: the application role settles, loads and reports, and nothing
more. Roles are cluster-wide, so each test makes its own (unique names) and drops them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from moneyed import Money
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from cli.main import app
from ledger.errors import InputError
from ledger.roles import PRIVILEGES, RoleError, create_roles
from tests.conftest import pg_schema_url
from wmc_ledger import Instruction, Ledger

BANKS = [{"bank_id": "HKB", "name": "Harbour Bank", "market": "HK"},
         {"bank_id": "MOB", "name": "Macau Bank", "market": "MO"}]
ACCOUNTS = [
    {"account": "HKB-NOSTRO-HKD", "bank_id": "HKB", "type": "asset", "currency": "HKD",
     "allow_overdraft": True},
    {"account": "HKB-CUST-HKD", "bank_id": "HKB", "type": "liability", "currency": "HKD"},
    {"account": "MOB-CUST-HKD", "bank_id": "MOB", "type": "liability", "currency": "HKD"},
    {"account": "MOB-OLD-HKD", "bank_id": "MOB", "type": "liability", "currency": "HKD"},
]


@pytest.fixture
def pg_url(pg_database: str) -> Iterator[str]:
    """A fresh schema of the session's database (search_path set to it), dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_database, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield pg_schema_url(pg_database, schema)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def roles(pg_url: str) -> Iterator[tuple[str, str]]:
    """Unique owner and application role names; both dropped after the test."""
    tag = uuid.uuid4().hex[:10]
    owner, app_role = f"wmc_owner_{tag}", f"wmc_app_{tag}"
    yield owner, app_role
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for role in (owner, app_role):
            if conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"),
                            {"r": role}).first():
                conn.execute(text(f'REASSIGN OWNED BY "{role}" TO CURRENT_USER'))
                conn.execute(text(f'DROP OWNED BY "{role}"'))
                conn.execute(text(f'DROP ROLE "{role}"'))
    admin.dispose()


def as_role(url: str, role: str) -> str:
    return make_url(url).set(username=role).render_as_string(hide_password=False)


def settle_one(ledger: Ledger, iid: str) -> None:
    batch = ledger.settle([Instruction(iid, "transfer", "HKB-CUST-HKD", "MOB-CUST-HKD",
                                       Money("100.00", "HKD"), "2025-03-03")])
    assert batch.codes == {}, batch.codes


def test_the_app_role_settles_loads_and_reports_and_can_do_nothing_more(
        pg_url: str, roles: tuple[str, str]) -> None:
    owner, app_role = roles
    with Ledger.open(pg_url) as admin:
        admin.init()
        admin.create_roles(owner_role=owner, app_role=app_role)
    app_url = as_role(pg_url, app_role)
    with Ledger.open(app_url) as ledger:
        ledger.load_banks(BANKS)
        ledger.load_accounts(ACCOUNTS)
        assert ledger.transfer("DEP-1", "HKB-NOSTRO-HKD", "HKB-CUST-HKD",
                               Money("500.00", "HKD")).ok
        settle_one(ledger, "I-1")
        ledger.close_account("MOB-OLD-HKD")
        assert ledger.balance("HKB-CUST-HKD") == Money("400.00", "HKD")
        assert ledger.quota().investors == ()
        assert ledger.audit().ok

    refused = [
        "UPDATE entries SET kind = 'x'",
        "DELETE FROM entries",
        "TRUNCATE entries CASCADE",
        "UPDATE transfers SET amount = 1",
        "DELETE FROM transfers",
        "TRUNCATE transfers",
        "ALTER TABLE entries DISABLE TRIGGER ALL",
        "ALTER TABLE transfers DISABLE TRIGGER USER",
        "SET session_replication_role = replica",
        "UPDATE accounts SET type = 'asset'",
        "UPDATE accounts SET allow_overdraft = true",
        "DELETE FROM accounts",
        "DELETE FROM quota_usage",
        "TRUNCATE quota_usage",
        "DELETE FROM batches",
        "UPDATE fx_rates SET bid = 1",
        "UPDATE ledger_head SET id = 2",
        "DELETE FROM alembic_version",
        "DROP TABLE entries CASCADE",
        "CREATE TABLE sneaky (x int)",
        f'SET ROLE "{owner}"',
        "CREATE TRIGGER t BEFORE INSERT ON entries FOR EACH ROW "
        "EXECUTE FUNCTION wmc_append_only()",
    ]
    eng = create_engine(app_url)
    try:
        for stmt in refused:
            with eng.connect() as conn, pytest.raises(DBAPIError) as info:
                conn.execute(text(stmt))
            sqlstate = getattr(info.value.orig, "sqlstate", None)
            assert sqlstate in ("42501", "42809"), (stmt, sqlstate, info.value)  # no privilege
        with eng.connect() as conn:
            attrs = conn.execute(text(
                "SELECT rolsuper, rolcreatedb, rolcreaterole, rolbypassrls, rolreplication "
                "FROM pg_roles WHERE rolname = current_user")).one()
            assert not any(attrs)
            assert conn.execute(text(
                "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() "
                "AND tableowner <> :o"), {"o": owner}).scalar_one() == 0
    finally:
        eng.dispose()

    # Granting again converges (no error, the same privileges), and the app still settles.
    with Ledger.open(pg_url) as admin:
        admin.create_roles(owner_role=owner, app_role=app_role)
    with Ledger.open(app_url) as ledger:
        settle_one(ledger, "I-2")
        assert ledger.audit().ok


def test_every_table_of_the_schema_has_its_privileges_defined(pg_url: str) -> None:
    with Ledger.open(pg_url) as admin:
        admin.init()
        with admin.engine.connect() as conn:
            tables = {str(r[0]) for r in conn.execute(text(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))}
    assert tables <= PRIVILEGES.keys()


def test_an_unclassified_table_or_a_bad_name_is_refused(pg_url: str,
                                                        roles: tuple[str, str]) -> None:
    owner, app_role = roles
    with Ledger.open(pg_url) as admin:
        admin.init()
        with pytest.raises(InputError, match="role name"):
            admin.create_roles(owner_role='x"; DROP TABLE entries; --', app_role=app_role)
        with pytest.raises(InputError, match="must differ"):
            admin.create_roles(owner_role=owner, app_role=owner)
        with admin.engine.begin() as conn:
            conn.execute(text("CREATE TABLE side_notes (x int)"))
            with pytest.raises(RoleError, match="side_notes"):
                create_roles(conn, owner_role=owner, app_role=app_role)


def test_roles_on_sqlite_are_refused(tmp_path: Path) -> None:
    with Ledger.open(f"sqlite:///{tmp_path}/l.db") as ledger, \
            pytest.raises(RoleError, match="PostgreSQL"):
        ledger.init().create_roles()


def test_wmc_init_create_roles(pg_url: str, roles: tuple[str, str]) -> None:
    owner, app_role = roles
    res = CliRunner().invoke(app, ["--db", pg_url, "init", "--create-roles", "--owner-role",
                                   owner, "--app-role", app_role])
    assert res.exit_code == 0, res.output
    assert f"{owner} owns the schema" in res.stdout
    res = CliRunner().invoke(app, ["--db", as_role(pg_url, app_role), "audit", "verify"])
    assert res.exit_code == 0, res.output
