"""DDL that makes tables append-only, shared by the migrations (one wording, one mechanism).

SQLite: a BEFORE UPDATE and a BEFORE DELETE trigger per table that abort. PostgreSQL: row
triggers on UPDATE or DELETE and a statement trigger on TRUNCATE, all calling
``wmc_append_only()``, which revision 0001 creates.
"""

from __future__ import annotations

from collections.abc import Iterable


def append_only_triggers(dialect: str, tables: Iterable[str]) -> list[str]:
    tables = list(tables)
    if dialect == "postgresql":
        return [
            *(f"""CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t}
            FOR EACH ROW EXECUTE FUNCTION wmc_append_only()""" for t in tables),
            *(f"""CREATE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t}
            FOR EACH STATEMENT EXECUTE FUNCTION wmc_append_only()""" for t in tables),
        ]
    return [
        f"""CREATE TRIGGER {t}_append_only_{op} BEFORE {op.upper()} ON {t}
        BEGIN SELECT RAISE(ABORT, '{t} are append-only: {op} refused'); END"""
        for t in tables
        for op in ("update", "delete")
    ]
