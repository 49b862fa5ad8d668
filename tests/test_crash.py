"""A batch commits as a whole: SIGKILL `wmc settle run` at several points, run it again, and the
end state equals one clean run: balances, quota usage, positions; nothing posted twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from benchmarks.generate import generate

N = 20_000


def wmc(db: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "--db", db, *args], capture_output=True, text=True,
        check=check, env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
    )


def _state(db: str) -> dict[str, object]:
    eng = create_engine(db)
    with eng.connect() as c:
        state = {
            "balances": c.execute(text(
                "SELECT code, debits_posted, credits_posted FROM accounts ORDER BY code")).all(),
            "quota": c.execute(text("SELECT * FROM quota_usage ORDER BY 1, 2")).all(),
            "aggregate": c.execute(text("SELECT * FROM aggregate_quota ORDER BY 1")).all(),
            "entries": c.execute(text("SELECT count(*), count(DISTINCT id) FROM entries")).one(),
            "positions": c.execute(text(
                "SELECT bank_id, currency, net FROM batch_positions ORDER BY 1, 2")).all(),
            "batches": c.execute(text("SELECT count(*) FROM batches")).scalar(),
        }
    eng.dispose()
    return state


def _prepare(db: str, files: object) -> None:
    wmc(db, "init")
    for kind in ("banks", "accounts", "investors", "products", "rates"):
        wmc(db, "load", kind, str(getattr(files, kind)))


@pytest.mark.slow
def test_sigkill_then_rerun_equals_one_clean_run(db_url: str, tmp_path: Path) -> None:
    files = generate(N, tmp_path / "day", seed=5)
    clean = db_url
    # The clean run and the crashed one need two databases: the crashed one gets its own file
    # (SQLite) or schema (PostgreSQL).
    if db_url.startswith("sqlite"):
        crashed = f"sqlite:///{tmp_path}/crashed.db"
    else:
        eng = create_engine(db_url, isolation_level="AUTOCOMMIT")
        schema = "crash_" + os.urandom(4).hex()
        with eng.connect() as c:
            c.execute(text(f"CREATE SCHEMA {schema}"))
        eng.dispose()
        crashed = _with_schema(db_url, schema)
    _prepare(clean, files)
    _prepare(crashed, files)
    wmc(clean, "settle", "run", str(files.instructions), "--format", "json")

    for delay in (0.2, 0.6, 1.2, 2.0):
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "--db", crashed, "settle", "run",
             str(files.instructions)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        state = _state(crashed)
        assert state["entries"] in ((0, 0), _state(clean)["entries"])  # none or all of it
    wmc(crashed, "settle", "run", str(files.instructions))
    again = wmc(crashed, "settle", "run", str(files.instructions), "--format", "json")
    assert '"accepted": 0' in again.stdout  # the file a third time posts nothing

    got, want = _state(crashed), _state(clean)
    assert got["balances"] == want["balances"]
    assert got["quota"] == want["quota"]
    assert got["aggregate"] == want["aggregate"]
    assert got["entries"] == want["entries"]
    assert got["entries"][0] == got["entries"][1]  # nothing posted twice
    assert sorted(set(got["positions"])) == sorted(set(want["positions"]))  # type: ignore[call-overload]
    assert wmc(crashed, "audit", "verify").returncode == 0


def _with_schema(url: str, schema: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).update_query_dict({"options": f"-csearch_path={schema}"}) \
        .render_as_string(hide_password=False)
