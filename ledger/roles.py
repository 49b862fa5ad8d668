"""Least privilege on PostgreSQL: an owner role for the schema, an application role for the rest.

A ledger whose application connects as a superuser (or as the tables' owner) is protected by
its triggers only against honest mistakes: the owner can ``ALTER TABLE ... DISABLE TRIGGER``,
a superuser can ``SET session_replication_role = replica`` and skip them all. So
:func:`create_roles` makes two roles and hands the schema to them:

- the **owner role** (``NOLOGIN``) owns every table, sequence and function of the ledger's
  schema; migrations run as it (a DBA ``SET ROLE``s to it), and nothing else does;
- the **application role** (``LOGIN``, not superuser, no ``CREATEDB``/``CREATEROLE``/
  ``REPLICATION``/``BYPASSRLS``, member of no role) gets exactly what settling, loading and
  reporting do, as :data:`PRIVILEGES` lists per table: ``SELECT`` and ``INSERT`` on the
  append-only tables, ``UPDATE`` only of the columns the code moves (running totals and the
  closed flag of accounts, the ledger head's counters and roots, quota usage), and never
  ``DELETE``, ``TRUNCATE``, ``REFERENCES`` or ``TRIGGER``. Owning nothing, it can neither alter
  a table nor disable a trigger.

Guarantees: every table of the schema is named in :data:`PRIVILEGES`, or :func:`create_roles`
refuses (a table added by a later migration cannot be forgotten, nor silently opened to the
application); privileges granted before are revoked first, so running it again converges on
exactly this list. Roles are cluster-wide; the grants are per schema (the connection's
``current_schema()``), so one pair of roles may serve several ledgers of one cluster.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from sqlalchemy import Connection, text

from ledger.errors import InputError, LedgerError


@dataclass(frozen=True, slots=True)
class Grant:
    """What the application role may do to one table. ``update`` names the columns it may
    move; ``update_all_but`` instead grants UPDATE of every column except those (for a table
    whose columns grow with migrations, such as the ledger head)."""

    insert: bool = True
    update: tuple[str, ...] = ()
    update_all_but: tuple[str, ...] | None = None


APPEND_ONLY: Final = Grant()
PRIVILEGES: Final[Mapping[str, Grant | None]] = {
    # Reference data: loading is insert-only (the same key with other content is refused).
    "banks": APPEND_ONLY,
    "investors": APPEND_ONLY,
    "products": APPEND_ONLY,
    "fx_rates": APPEND_ONLY,
    # The posted records and what batches leave behind.
    "entries": APPEND_ONLY,
    "transfers": APPEND_ONLY,
    "events": APPEND_ONLY,
    "batches": APPEND_ONLY,
    "batch_rejections": APPEND_ONLY,
    "batch_positions": APPEND_ONLY,
    "batch_obligations": APPEND_ONLY,
    "batch_moved_dates": APPEND_ONLY,
    "batch_duplicates": APPEND_ONLY,
    "batch_reversals": APPEND_ONLY,
    "batch_quota_changes": APPEND_ONLY,
    "batch_aggregate_changes": APPEND_ONLY,
    "rejected_instructions": APPEND_ONLY,
    "fx_revaluations": APPEND_ONLY,
    # The rows that must move, and only in the columns that move.
    "accounts": Grant(update=("debits_posted", "credits_posted", "closed")),
    "quota_usage": Grant(update=("remitted_out", "remitted_back", "used")),
    "aggregate_quota": Grant(insert=False, update=("used",)),
    "ledger_head": Grant(insert=False, update_all_but=("id", "ledger_id")),
    # Alembic's bookkeeping: readable (which revision is this?), written by the owner only.
    "alembic_version": Grant(insert=False),
}
"""The application role's privileges per table (SELECT on each; ``None``: no access at all)."""

_NAME_RE: Final = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class RoleError(LedgerError):
    """Roles that cannot be created or granted as asked (a name, a privilege, a table)."""


def _ident(name: str, what: str) -> str:
    """``name`` quoted as an SQL identifier, after checking it is a plain lower-case name:
    role names are interpolated into DDL, which takes no bind parameters."""
    if not _NAME_RE.match(name):
        raise InputError(f"{what} {name!r}: expected a role name of lower-case letters, digits "
                         "and underscores, starting with a letter (at most 63)")
    return f'"{name}"'


def _role_exists(conn: Connection, name: str) -> bool:
    return conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": name}).first() \
        is not None


def create_roles(conn: Connection, *, owner_role: str = "wmc_owner",
                 app_role: str = "wmc_app") -> list[str]:
    """Create (or bring back into line) the owner and application roles and grant the
    connection's current schema to them; returns the statements run, for the record.

    Run it as a superuser (or a role with ``CREATEROLE`` that owns the schema's objects) after
    the migrations. The application role gets no password here: the DBA sets one (or a
    certificate mapping) the bank's usual way, outside the ledger.
    """
    if conn.dialect.name != "postgresql":
        raise RoleError("roles are a PostgreSQL feature; SQLite has no users (protect the file)")
    owner, app = _ident(owner_role, "owner role"), _ident(app_role, "application role")
    if owner_role == app_role:
        raise InputError("the owner role and the application role must differ")
    schema = str(conn.execute(text("SELECT current_schema()")).scalar_one())
    qschema = '"' + schema.replace('"', '""') + '"'
    tables = [str(r[0]) for r in conn.execute(text(
        "SELECT tablename FROM pg_tables WHERE schemaname = :s ORDER BY tablename"),
        {"s": schema})]
    unknown = [t for t in tables if t not in PRIVILEGES]
    if unknown:
        raise RoleError(f"no privileges are defined for table(s) {', '.join(unknown)} of schema "
                        f"{schema}: add them to ledger.roles.PRIVILEGES")
    columns: dict[str, list[str]] = {}
    for t, c in conn.execute(text(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = :s ORDER BY table_name, ordinal_position"), {"s": schema}):
        columns.setdefault(str(t), []).append(str(c))
    sequences = [str(r[0]) for r in conn.execute(text(
        "SELECT sequence_name FROM information_schema.sequences WHERE sequence_schema = :s "
        "ORDER BY sequence_name"), {"s": schema})]
    functions = [str(r[0]) for r in conn.execute(text(
        "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n "
        "ON n.oid = p.pronamespace WHERE n.nspname = :s ORDER BY 1"), {"s": schema})]

    sql: list[str] = []
    if not _role_exists(conn, owner_role):
        sql.append(f"CREATE ROLE {owner}")
    if not _role_exists(conn, app_role):
        sql.append(f"CREATE ROLE {app}")
    # Attributes are set even on roles that existed: a role made by hand may have too many.
    sql += [
        f"ALTER ROLE {owner} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
        "NOBYPASSRLS",
        f"ALTER ROLE {app} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
        "NOBYPASSRLS NOINHERIT",
    ]
    # A membership would let the application SET ROLE to the owner (or inherit its rights).
    for r in conn.execute(text(
            "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
            "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = :n"), {"n": app_role}):
        sql.append(f"REVOKE {_ident(str(r[0]), 'role')} FROM {app}")
    sql += [
        f"GRANT USAGE, CREATE ON SCHEMA {qschema} TO {owner}",
        f"REVOKE CREATE ON SCHEMA {qschema} FROM PUBLIC",
        f"REVOKE ALL ON SCHEMA {qschema} FROM {app}",
        f"GRANT USAGE ON SCHEMA {qschema} TO {app}",
    ]
    for t in tables:
        qt = f'{qschema}."{t}"'
        sql += [f"ALTER TABLE {qt} OWNER TO {owner}", f"REVOKE ALL ON {qt} FROM PUBLIC",
                f"REVOKE ALL ON {qt} FROM {app}"]
        grant = PRIVILEGES[t]
        if grant is None:
            continue
        sql.append(f"GRANT SELECT{', INSERT' if grant.insert else ''} ON {qt} TO {app}")
        moving = (grant.update if grant.update_all_but is None else
                  tuple(c for c in columns.get(t, []) if c not in grant.update_all_but))
        missing = [c for c in moving if c not in columns.get(t, [])]
        if missing:
            raise RoleError(f"table {t} has no column(s) {', '.join(missing)} to grant UPDATE of")
        if moving:
            cols = ", ".join(f'"{c}"' for c in moving)
            sql.append(f"GRANT UPDATE ({cols}) ON {qt} TO {app}")
    for s in sequences:
        # Sequences owned by a column follow their table's owner; the rest are altered here.
        qs = f'{qschema}."{s}"'
        sql += [f"REVOKE ALL ON SEQUENCE {qs} FROM {app}",
                f"GRANT USAGE, SELECT ON SEQUENCE {qs} TO {app}"]
    for f in functions:
        sql.append(f"ALTER FUNCTION {qschema}.{f.split('.', 1)[-1]} OWNER TO {owner}")
    for stmt in sql:
        conn.execute(text(stmt))
    return sql
