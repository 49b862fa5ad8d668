"""Proof that the ledger was not rewritten: two Merkle trees in place of one hash chain.

- ``events``: an append-only log of every row written to a covered reference table (see
  ``ledger.records.COVERED``), each with its leaf hash.
- ``ledger_head``: ``last_hash`` becomes ``root`` (the ledger's root over both trees), and the head
  gains the ledger's id and both trees' frontiers.
- An existing ledger is carried over: every entry's ``hash`` becomes the leaf hash of its record
  in the unambiguous encoding (the update triggers stand aside for this one statement and are put
  back), every covered row already stored gets its event, and the head its frontiers and root.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

from ledger.merkle import Frontier, leaf_hash
from ledger.migrations.append_only import append_only_triggers
from ledger.records import (
    COVERED,
    append_events,
    canonical,
    entry_record_at,
    group_body,
    ledger_root,
    recording,
    row_body,
    select_rows,
    subject_of,
    table_exists,
)

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    op.create_table(
        "events",
        sa.Column("seq", BigId, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.String(40), nullable=False),
        sa.Column("recorded_by", sa.Text, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    for ddl in append_only_triggers(dialect, ("events",)):
        op.execute(ddl)
    op.execute("ALTER TABLE ledger_head RENAME COLUMN last_hash TO root")
    for name, type_, default in (("ledger_id", "VARCHAR(32)", "''"),
                                 ("entries_frontier", "TEXT", "''"),
                                 ("events_seq", "BIGINT", "0"),
                                 ("events_frontier", "TEXT", "''")):
        op.execute(f"ALTER TABLE ledger_head ADD COLUMN {name} {type_} NOT NULL "
                   f"DEFAULT {default}")
    _carry_over(bind, dialect)


def _carry_over(bind: sa.Connection, dialect: str) -> None:
    entries = Frontier()
    seqs = [int(r[0]) for r in bind.exec_driver_sql("SELECT seq FROM entries ORDER BY seq")]
    if seqs:
        if dialect == "postgresql":
            op.execute("ALTER TABLE entries DISABLE TRIGGER entries_append_only")
        else:
            op.execute("DROP TRIGGER entries_append_only_update")
        m = "%s" if dialect == "postgresql" else "?"
        for part in range(0, len(seqs), 5000):
            rows = []
            for seq in seqs[part:part + 5000]:
                leaf = leaf_hash(entry_record_at(bind, seq))
                entries.append(leaf)
                rows.append((leaf.hex(), seq))
            bind.exec_driver_sql(f"UPDATE entries SET hash = {m} WHERE seq = {m}", rows)
        if dialect == "postgresql":
            op.execute("ALTER TABLE entries ENABLE TRIGGER entries_append_only")
        else:
            op.execute(next(ddl for ddl in append_only_triggers("sqlite", ("entries",))
                            if "entries_append_only_update" in ddl))
    # Events for what is stored, in a fixed order: table by table, row by row by key (tables
    # that later migrations create are empty when they appear).
    events: list[tuple[str, str, str]] = []
    for spec in COVERED.values():
        if not table_exists(bind, spec.table):
            continue
        stored = select_rows(bind, spec)
        if spec.group is None:
            events += [(spec.table, subject_of(spec, r), row_body(spec, r)) for r in stored]
            continue
        groups: dict[object, list[dict[str, object]]] = {}
        for row in stored:
            groups.setdefault(row[spec.group], []).append(row)
        events += [(spec.table, canonical(g), group_body(spec, rs))
                   for g, rs in sorted(groups.items(), key=lambda kv: str(kv[0]))]
    root = ledger_root(entries.root(), Frontier().root())
    m = "%s" if dialect == "postgresql" else "?"
    bind.exec_driver_sql(
        f"UPDATE ledger_head SET ledger_id = {m}, entries_frontier = {m}, root = {m} WHERE id = 1",
        (uuid.uuid4().hex, entries.encode(), root.hex()))
    with recording(by="migration 0005"):
        append_events(bind, events)


def downgrade() -> None:
    raise NotImplementedError("0005 replaces the hash chain; a ledger is not carried back")
