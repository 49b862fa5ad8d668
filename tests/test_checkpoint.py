"""Signed checkpoints and inclusion proofs (``ledger.checkpoint``), on SQLite and PostgreSQL.

The attacker of these tests holds the database with its triggers out of the way (dropped on
SQLite, ``session_replication_role = replica`` on PostgreSQL) and the library's own hashing
functions: whatever they rewrite, they rehash every leaf and rebuild the head. Only the
signature stands outside their reach, and that is what must catch them.
"""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moneyed import Money
from sqlalchemy import Connection, text
from typer.testing import CliRunner

from cli.main import app
from ledger import merkle
from ledger.checkpoint import (
    Checkpoint,
    CheckpointError,
    check_extends,
    check_proof,
    key_id,
    keygen,
    load_private_key,
    load_public_key,
    make_checkpoint,
    parse_checkpoint,
    prove,
    read_checkpoint,
)
from ledger.db import is_postgres
from ledger.errors import InputError, IntegrityError, LedgerError, NotFound
from ledger.records import (
    Frontier,
    TreeState,
    entry_record_at,
    event_record_at,
    ledger_root,
    set_root,
)
from wmc_ledger import FixedClock, Instruction, Ledger

runner = CliRunner()
N_ENTRIES = 10

BANKS = [{"bank_id": "HKB", "name": "Harbour Bank", "market": "HK"},
         {"bank_id": "MOB", "name": "Macau Bank", "market": "MO"}]
ACCOUNTS = [
    {"account": "HKB-NOSTRO-HKD", "bank_id": "HKB", "type": "asset", "currency": "HKD",
     "allow_overdraft": True},
    {"account": "HKB-CUST-HKD", "bank_id": "HKB", "type": "liability", "currency": "HKD"},
    {"account": "MOB-CUST-HKD", "bank_id": "MOB", "type": "liability", "currency": "HKD"},
]


def wmc(db: str, *args: str) -> tuple[int, str, str]:
    res = runner.invoke(app, ["--db", db, *args])
    if res.exception and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res.exit_code, res.stdout, res.stderr


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return keygen(tmp_path_factory.mktemp("keys"))


@dataclass
class World:
    ledger: Ledger
    url: str
    keys: tuple[Path, Path]
    #: checkpoints[k]: the checkpoint made right after entry k was posted (k = 1..N_ENTRIES).
    checkpoints: dict[int, Checkpoint]
    files: dict[int, Path]


@pytest.fixture
def world(db_url: str, keys: tuple[Path, Path], tmp_path: Path) -> Iterator[World]:
    """A ledger of N_ENTRIES one-transfer entries (nostro to customer, amounts all different),
    with reference data loaded between them (so the events log grows too), and a checkpoint
    after each entry."""
    ledger = Ledger.open(db_url, clock=FixedClock("2025-03-03T10:00:00+08:00")).init()
    ledger.load_banks(BANKS)
    ledger.load_accounts(ACCOUNTS[:2])
    checkpoints, files = {}, {}
    for k in range(1, N_ENTRIES + 1):
        if k == 4:
            ledger.load_accounts(ACCOUNTS[2:])
        credit = "MOB-CUST-HKD" if k >= 4 and k % 2 else "HKB-CUST-HKD"
        assert ledger.transfer(f"E-{k}", "HKB-NOSTRO-HKD", credit,
                               Money(f"{100 + k}.00", "HKD"), reference=f"ref {k}").ok
        files[k] = tmp_path / f"cp-{k}.json"
        checkpoints[k] = ledger.checkpoint(keys[0], out=files[k])
    try:
        yield World(ledger, db_url, keys, checkpoints, files)
    finally:
        ledger.close()


# -- the attacker's tools -------------------------------------------------------------------------


def drop_guards(conn: Connection) -> None:
    if is_postgres(conn):
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        return
    for (name,) in conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'trigger'").all():
        conn.exec_driver_sql(f"DROP TRIGGER {name}")


def rehash(conn: Connection) -> None:
    """Recompute every leaf of both logs from the rows, and the head from the leaves."""
    trees = {}
    for log, record_at in (("entries", entry_record_at), ("events", event_record_at)):
        tree = Frontier()
        for (seq,) in conn.exec_driver_sql(f"SELECT seq FROM {log} ORDER BY seq").all():
            leaf = merkle.leaf_hash(record_at(conn, int(seq)))
            conn.execute(text(f"UPDATE {log} SET hash = :h WHERE seq = :s"),
                         {"h": leaf.hex(), "s": seq})
            tree.append(leaf)
        trees[log] = tree
    last_tid = conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM transfers").scalar_one()
    set_root(conn, entries=trees["entries"], events=trees["events"],
             last_transfer_id=int(last_tid))


def change_amount(conn: Connection, seq: int, delta: int) -> None:
    """Move ``delta`` more in entry ``seq``'s transfer, and the accounts' totals with it."""
    tid, debit, credit = conn.execute(text(
        "SELECT id, debit_account_id, credit_account_id FROM transfers WHERE entry_seq = :s"),
        {"s": seq}).one()
    conn.execute(text("UPDATE transfers SET amount = amount + :d WHERE id = :t"),
                 {"d": delta, "t": tid})
    conn.execute(text("UPDATE accounts SET debits_posted = debits_posted + :d WHERE id = :a"),
                 {"d": delta, "a": debit})
    conn.execute(text("UPDATE accounts SET credits_posted = credits_posted + :d WHERE id = :a"),
                 {"d": delta, "a": credit})


def swap_entries(conn: Connection, i: int, j: int) -> None:
    """Reorder history: entry i's transfer goes to entry j and j's to i."""
    conn.execute(text("UPDATE transfers SET entry_seq = CASE entry_seq WHEN :i THEN :j "
                      "ELSE :i END WHERE entry_seq IN (:i, :j)"), {"i": i, "j": j})


def truncate(conn: Connection, log: str, first: int) -> None:
    """Cut ``log`` from seq ``first`` on (entries with their transfers)."""
    if log == "entries":
        conn.execute(text("DELETE FROM transfers WHERE entry_seq >= :s"), {"s": first})
    conn.execute(text(f"DELETE FROM {log} WHERE seq >= :s"), {"s": first})


def edit_event(conn: Connection, seq: int) -> None:
    conn.execute(text("UPDATE events SET body = body || ' ' WHERE seq = :s"), {"s": seq})


def tampered(world: World, *edits: object) -> Iterator[Connection]:
    """A connection inside a transaction where ``edits`` (callables of a connection) were made
    with the guards dropped and every hash recomputed; rolled back afterwards."""
    with world.ledger.engine.connect() as conn:
        trans = conn.begin()
        try:
            drop_guards(conn)
            for edit in edits:
                edit(conn)  # type: ignore[operator]
            rehash(conn)
            yield conn
        finally:
            trans.rollback()


def problems_after(world: World, k: int, *edits: object) -> list[str]:
    for conn in tampered(world, *edits):
        return check_extends(conn, world.checkpoints[k])
    raise AssertionError("unreachable")


def events_size(world: World) -> int:
    with world.ledger.engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT count(*) FROM events").scalar_one())


# -- keys and the checkpoint's form ---------------------------------------------------------------


def test_keygen_writes_a_private_key_only_its_owner_reads_and_never_overwrites(
        tmp_path: Path) -> None:
    private, public = keygen(tmp_path / "k")
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o600
    assert private.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert public.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    assert key_id(load_private_key(private).public_key()) == key_id(load_public_key(public))
    before = private.read_bytes()
    with pytest.raises(InputError, match="already exists"):
        keygen(tmp_path / "k")
    assert private.read_bytes() == before
    code, _, err = wmc("sqlite://", "audit", "keygen", str(tmp_path / "k"))
    assert code == 2 and "already exists" in err
    with pytest.raises(InputError, match="not a PEM public key"):
        load_public_key(private)


def _state(n: int) -> TreeState:
    leaves = [merkle.leaf_hash(str(i).encode()) for i in range(n)]
    events = [merkle.leaf_hash(b"e")]
    er, vr = merkle.root(leaves), merkle.root(events)
    return TreeState("ab" * 16, n, n, n, er, 1, vr, ledger_root(er, vr))


def test_a_checkpoint_round_trips_and_refuses_any_edit(keys: tuple[Path, Path]) -> None:
    import datetime as dt

    private, public = load_private_key(keys[0]), load_public_key(keys[1])
    cp = make_checkpoint(_state(5), private, at=dt.datetime.fromisoformat(
        "2025-03-03T18:00:00+08:00"))
    data = json.loads(cp.to_json())
    assert set(data) == {"version", "ledger_id", "last_seq", "last_transfer_id", "entries",
                         "events", "root", "created_at", "key_id", "signature"}
    assert data["entries"] == {"size": 5, "root": cp.entries_root.hex()}
    assert parse_checkpoint(data, public, source="cp.json") == cp
    # Every field is covered by the signature: change any and it no longer verifies.
    edits = {"last_seq": 6, "last_transfer_id": 4, "ledger_id": "cd" * 16,
             "created_at": "2025-03-04T18:00:00+08:00",
             "entries": {"size": 4, "root": cp.entries_root.hex()}}
    for field, value in edits.items():
        with pytest.raises(CheckpointError, match=r"cp\.json: the signature does not verify"):
            parse_checkpoint({**data, field: value}, public, source="cp.json")
    # The roots: a changed combined root is refused even unsigned (it must be the two roots').
    with pytest.raises(CheckpointError, match="field 'root'"):
        parse_checkpoint({**data, "root": "00" * 32}, None, source="cp.json")
    other = Path(keys[1]).parent / "other"
    _, other_pub = keygen(other)
    with pytest.raises(CheckpointError, match="not with the given public key"):
        parse_checkpoint(data, load_public_key(other_pub), source="cp.json")
    forged = {**data, "key_id": key_id(load_public_key(other_pub))}
    with pytest.raises(CheckpointError, match="signature does not verify"):
        parse_checkpoint(forged, load_public_key(other_pub), source="cp.json")
    for bad, match in [({**data, "version": 2}, "field 'version'"),
                       ({**data, "entries": {"size": -1, "root": "00"}}, "field 'entries.size'"),
                       ({**data, "signature": "not base64!"}, "field 'signature'"),
                       ({k: v for k, v in data.items() if k != "root"}, "missing root"),
                       ({**data, "extra": 1}, "unknown extra"),
                       ({**data, "created_at": "2025-03-03"}, "field 'created_at'"),
                       ([1, 2], "expected a JSON object")]:
        with pytest.raises(InputError, match=match):
            parse_checkpoint(bad, public, source="cp.json")


def test_read_checkpoint_names_the_file(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match=f"{bad}: not JSON"):
        read_checkpoint(bad, None)
    with pytest.raises(InputError, match="cannot read the checkpoint"):
        read_checkpoint(tmp_path / "missing.json", None)


# -- the ledger against its checkpoints -----------------------------------------------------------


def test_an_untouched_ledger_extends_every_checkpoint_of_its_past(world: World) -> None:
    with world.ledger.engine.connect() as conn:
        for k, cp in world.checkpoints.items():
            assert cp.entries_size == cp.last_seq == k
            assert check_extends(conn, cp) == []
    public = world.keys[1]
    assert world.ledger.verify_checkpoint(world.files[3], public) == []
    code, out, err = wmc(world.url, "audit", "verify", "--checkpoint", str(world.files[3]),
                         "--public-key", str(public))
    assert code == 0, err
    assert "the ledger extends" in out


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_rewrite_with_every_hash_recomputed_is_caught_and_only_then(
        world: World, data: st.DataObject) -> None:
    k = data.draw(st.integers(1, N_ENTRIES), label="checkpoint after entry")
    kind = data.draw(st.sampled_from(["amount", "swap", "truncate", "event", "cut_events"]))
    n_events = events_size(world)
    if kind == "amount":
        seq = data.draw(st.integers(1, N_ENTRIES), label="seq")
        delta = data.draw(st.integers(1, 10_000), label="delta")
        problems = problems_after(world, k, lambda c: change_amount(c, seq, delta))
        expected = seq <= k
        words = "rewritten or reordered history in the entries log at or before seq"
    elif kind == "swap":
        i = data.draw(st.integers(1, N_ENTRIES - 1), label="i")
        j = data.draw(st.integers(i + 1, N_ENTRIES), label="j")
        problems = problems_after(world, k, lambda c: swap_entries(c, i, j))
        expected = i <= k
        words = "rewritten or reordered history in the entries log"
    elif kind == "truncate":
        first = data.draw(st.integers(1, N_ENTRIES), label="first seq cut")
        problems = problems_after(world, k, lambda c: truncate(c, "entries", first))
        expected = first <= k
        words = f"truncated: the checkpoint has {k} entries, the ledger {first - 1}"
    elif kind == "event":
        seq = data.draw(st.integers(1, n_events), label="event seq")
        problems = problems_after(world, k, lambda c: edit_event(c, seq))
        expected = seq <= world.checkpoints[k].events_size
        words = "rewritten or reordered history in the events log"
    else:
        first = data.draw(st.integers(1, n_events), label="first event cut")
        problems = problems_after(world, k, lambda c: truncate(c, "events", first))
        expected = first <= world.checkpoints[k].events_size
        words = "truncated: the checkpoint has"
    if expected:
        assert any(words in p for p in problems), problems
    else:
        assert problems == [], problems


def test_verify_checkpoint_exits_3_naming_a_rewrite_a_truncation_and_another_ledger(
        world: World, tmp_path: Path) -> None:
    public = str(world.keys[1])
    engine = world.ledger.engine
    with engine.begin() as conn:
        drop_guards(conn)
        change_amount(conn, 2, 500)
        truncate(conn, "entries", 9)
        rehash(conn)
    code, _, err = wmc(world.url, "audit", "verify", "--checkpoint", str(world.files[5]),
                       "--public-key", public)
    assert code == 3
    assert "rewritten or reordered history in the entries log at or before seq 5" in err
    code, _, err = wmc(world.url, "audit", "verify", "--checkpoint", str(world.files[10]),
                       "--public-key", public)
    assert code == 3 and "truncated: the checkpoint has 10 entries, the ledger 8" in err
    with Ledger.open(f"sqlite:///{tmp_path}/other.db") as other:
        other.init()
        theirs = other.checkpoint(world.keys[0], out=tmp_path / "theirs.json")
    with world.ledger.engine.connect() as conn:
        assert any("is not the checkpoint's" in p for p in check_extends(conn, theirs))
    # A checkpoint signed by someone else is an integrity failure too, before any comparison.
    data = json.loads(world.files[1].read_text())
    data["last_seq"] = 99
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(data))
    code, _, err = wmc(world.url, "audit", "verify", "--checkpoint", str(forged),
                       "--public-key", public)
    assert code == 3 and "the signature does not verify" in err
    code, _, err = wmc(world.url, "audit", "verify", "--checkpoint", str(forged))
    assert code == 2 and "go together" in err


def test_no_checkpoint_is_signed_over_a_head_that_contradicts_its_rows(world: World) -> None:
    with world.ledger.engine.begin() as conn:
        drop_guards(conn)
        truncate(conn, "entries", 10)  # the head still says 10 entries
    with pytest.raises(IntegrityError, match="does not match its rows"):
        world.ledger.checkpoint(world.keys[0])
    code, _, err = wmc(world.url, "audit", "checkpoint", "--key", str(world.keys[0]))
    assert code == 3 and "no checkpoint is signed" in err


# -- inclusion proofs -----------------------------------------------------------------------------


def test_a_proof_of_every_entry_checks_with_no_database(world: World) -> None:
    public = load_public_key(world.keys[1])
    cp = world.checkpoints[7]
    with world.ledger.engine.connect() as conn:
        proofs = [prove(conn, f"E-{k}", cp) for k in range(1, 8)]
    for k, proof in enumerate(proofs, start=1):
        # Through JSON, as it travels: nothing of the database is needed to check it.
        result = check_proof(json.loads(json.dumps(proof)), public)
        assert result.ok, result.problems
        assert (result.entry_id, result.seq, proof["leaf_index"]) == (f"E-{k}", k, k - 1)
        assert result.fields is not None and result.fields["id"] == f"E-{k}"
        (leg,) = result.fields["transfers"]
        assert (leg["amount"], leg["reference"]) == (str(10_000 + 100 * k), f"ref {k}")
        assert len(proof["path"]) <= 3  # log2 of 7, rounded up


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(k=st.integers(1, N_ENTRIES), byte=st.integers(0, 10_000), bit=st.integers(0, 7),
       field=st.sampled_from(["record", "leaf", "path", "leaf_index", "entry_id"]))
def test_a_proof_with_anything_changed_fails(world: World, k: int, byte: int, bit: int,
                                             field: str) -> None:
    public = load_public_key(world.keys[1])
    with world.ledger.engine.connect() as conn:
        proof = prove(conn, f"E-{k}", world.checkpoints[N_ENTRIES])
    if field == "record":
        raw = bytearray(base64.b64decode(proof["record"]))
        raw[byte % len(raw)] ^= 1 << bit
        proof["record"] = base64.b64encode(bytes(raw)).decode()
    elif field == "leaf":
        proof["leaf"] = bytes.fromhex(proof["leaf"])[::-1].hex()
    elif field == "path":
        path = proof["path"]
        i = byte % len(path)
        path[i] = bytes(b ^ (1 << bit) for b in bytes.fromhex(path[i])).hex()
    elif field == "leaf_index":
        other = (k - 1 + 1 + byte % (N_ENTRIES - 1)) % N_ENTRIES
        proof["leaf_index"] = other
    else:
        proof["entry_id"] = f"E-{(k % N_ENTRIES) + 1}"
    result = check_proof(proof, public)
    expected = {"record": "does not hash to the stated leaf",
                "leaf": "does not hash to the stated leaf",
                "path": "leads to root", "leaf_index": "is not seq",
                "entry_id": "the proof names entry"}[field]
    assert any(expected in p for p in result.problems), (field, result.problems)


def test_an_edited_entry_cannot_be_proved_and_its_old_proof_still_holds_the_old_record(
        world: World) -> None:
    public = load_public_key(world.keys[1])
    cp = world.checkpoints[N_ENTRIES]
    with world.ledger.engine.connect() as conn:
        old = prove(conn, "E-3", cp)
    with world.ledger.engine.begin() as conn:
        drop_guards(conn)
        change_amount(conn, 3, 1)  # the row changes, its stored hash does not
    with pytest.raises(IntegrityError, match="no longer hashes to its stored leaf"):
        world.ledger.prove("E-3", world.files[N_ENTRIES])
    # A proof made from the edited row, as a forger would make it, fails offline.
    with world.ledger.engine.connect() as conn:
        forged = dict(old, record=base64.b64encode(entry_record_at(conn, 3)).decode())
    assert not check_proof(forged, public).ok
    assert check_proof(old, public).ok  # the signed past still says what it said
    with world.ledger.engine.begin() as conn:
        drop_guards(conn)
        rehash(conn)  # and with every hash recomputed, the ledger no longer extends it
    with pytest.raises(IntegrityError, match="does not extend the checkpoint"):
        world.ledger.prove("E-3", world.files[N_ENTRIES])


def test_prove_refuses_an_entry_the_checkpoint_does_not_cover(world: World) -> None:
    with pytest.raises(LedgerError, match="posted after the checkpoint, which covers seq 1 to 4"):
        world.ledger.prove("E-5", world.files[4])
    with pytest.raises(NotFound, match="'E-404'"):
        world.ledger.prove("E-404", world.files[4])


def test_wmc_audit_prove_and_check_proof(world: World, tmp_path: Path) -> None:
    public = str(world.keys[1])
    proof = tmp_path / "proof.json"
    code, out, err = wmc(world.url, "audit", "prove", "E-2", "--checkpoint",
                         str(world.files[6]), "--out", str(proof))
    assert code == 0, err
    assert "leaf 1 of 6" in out
    code, out, _ = wmc(world.url, "audit", "prove", "E-2", "--checkpoint", str(world.files[6]))
    assert json.loads(out) == json.loads(proof.read_text())
    # check-proof opens no database: point --db somewhere that does not exist.
    nowhere = f"sqlite:///{tmp_path}/missing/nothing.db"
    code, out, err = wmc(nowhere, "audit", "check-proof", str(proof), "--public-key", public)
    assert code == 0, err
    assert "ok: entry E-2 (seq 2)" in out and '"reference": "ref 2"' in out
    data = json.loads(proof.read_text())
    data["checkpoint"]["last_seq"] = 7
    proof.write_text(json.dumps(data))
    code, _, err = wmc(nowhere, "audit", "check-proof", str(proof), "--public-key", public)
    assert code == 3 and "signature does not verify" in err
    proof.write_text("[]")
    code, _, err = wmc(nowhere, "audit", "check-proof", str(proof), "--public-key", public)
    assert code == 3 and "expected a JSON object" in err
    proof.write_text("{")
    code, _, err = wmc(nowhere, "audit", "check-proof", str(proof), "--public-key", public)
    assert code == 2 and "not JSON" in err


def test_wmc_audit_checkpoint_to_stdout_and_file(world: World, tmp_path: Path) -> None:
    code, out, err = wmc(world.url, "audit", "checkpoint", "--key", str(world.keys[0]))
    assert code == 0, err
    cp = parse_checkpoint(json.loads(out), load_public_key(world.keys[1]), source="stdout")
    assert replace(cp, created_at="", signature=b"") == replace(
        world.checkpoints[N_ENTRIES], created_at="", signature=b"")
    out_file = tmp_path / "cp.json"
    code, out, _ = wmc(world.url, "audit", "checkpoint", "--key", str(world.keys[0]),
                       "--out", str(out_file))
    assert code == 0 and f"written to {out_file}" in out
    assert read_checkpoint(out_file, load_public_key(world.keys[1])).last_seq == N_ENTRIES


# -- a checkpoint after every batch ---------------------------------------------------------------


def test_a_checkpoint_is_written_after_every_committed_batch(
        db_url: str, keys: tuple[Path, Path], tmp_path: Path) -> None:
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    toml = tmp_path / "settings.toml"
    toml.write_text(f'[audit]\ncheckpoint_dir = "{folder}"\ncheckpoint_key = "{keys[0]}"\n')
    with Ledger.open(db_url, clock=FixedClock("2025-03-03T10:00:00+08:00"),
                     settings=toml) as ledger:
        ledger.init()
        ledger.load_banks(BANKS)
        ledger.load_accounts(ACCOUNTS)
        ledger.transfer("DEP", "HKB-NOSTRO-HKD", "HKB-CUST-HKD", Money("1000.00", "HKD"))
        for n in (1, 2):
            ledger.settle([Instruction(f"I-{n}", "transfer", "HKB-CUST-HKD", "MOB-CUST-HKD",
                                       Money("10.00", "HKD"), "2025-03-03")])
        written = sorted(p.name for p in folder.iterdir())
        assert written == ["checkpoint-2.json", "checkpoint-3.json"]
        for name in written:
            assert ledger.verify_checkpoint(folder / name, keys[1]) == []
        last = read_checkpoint(folder / "checkpoint-3.json", load_public_key(keys[1]))
        assert last.created_at == "2025-03-03T10:00:00+08:00"
        # The same file again posts nothing; the state moved (the batch's events), so the
        # earlier checkpoint of seq 3 is kept and the new one named by its events too.
        ledger.settle([Instruction("I-2", "transfer", "HKB-CUST-HKD", "MOB-CUST-HKD",
                                   Money("10.00", "HKD"), "2025-03-03")])
        assert len(list(folder.iterdir())) == 3
        # Through the command, too.
        code, _, err = wmc(db_url, "--settings", str(toml), "settle", "run",
                           str(_instructions(tmp_path)))
        assert code == 0, err
        assert "checkpoint-4.json" in {p.name for p in folder.iterdir()}


def _instructions(tmp_path: Path) -> Path:
    p = tmp_path / "day.csv"
    p.write_text("instruction_id,kind,debit_account,credit_account,amount,currency,value_date\n"
                 "I-3,transfer,HKB-CUST-HKD,MOB-CUST-HKD,5.00,HKD,2025-03-03\n")
    return p


def test_bad_checkpoint_settings_refuse_the_batch_with_nothing_written(
        db_url: str, keys: tuple[Path, Path], tmp_path: Path) -> None:
    only_dir = tmp_path / "only_dir.toml"
    only_dir.write_text(f'[audit]\ncheckpoint_dir = "{tmp_path}"\n')
    with pytest.raises(InputError, match=r"audit\.checkpoint_dir.*also set audit\.checkpoint_key"):
        Ledger.open(db_url, settings=only_dir).settings  # noqa: B018
    missing = tmp_path / "missing.toml"
    missing.write_text(f'[audit]\ncheckpoint_dir = "{tmp_path / "nope"}"\n'
                       f'checkpoint_key = "{keys[0]}"\n')
    with Ledger.open(db_url, settings=missing) as ledger:
        ledger.init()
        ledger.load_banks(BANKS)
        ledger.load_accounts(ACCOUNTS)
        with pytest.raises(InputError, match="expected an existing directory"):
            ledger.settle([Instruction("I-1", "transfer", "HKB-NOSTRO-HKD", "HKB-CUST-HKD",
                                       Money("10.00", "HKD"), "2025-03-03")])
        assert ledger.batches() == []


def test_a_checkpoint_that_cannot_be_written_is_reported_with_the_committed_batch(
        db_url: str, keys: tuple[Path, Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from ledger.checkpoint import AfterBatch, CheckpointNotWritten

    toml = tmp_path / "settings.toml"
    toml.write_text(f'[audit]\ncheckpoint_dir = "{tmp_path}"\ncheckpoint_key = "{keys[0]}"\n')

    def full_disk(self: AfterBatch, conn: Connection, at: object) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(AfterBatch, "write", full_disk)
    with Ledger.open(db_url, settings=toml) as ledger:
        ledger.init()
        ledger.load_banks(BANKS)
        ledger.load_accounts(ACCOUNTS)
        with pytest.raises(CheckpointNotWritten, match=r"is committed, but its checkpoint was "
                           r"not written.*No space left") as info:
            ledger.settle([Instruction("I-1", "transfer", "HKB-NOSTRO-HKD", "HKB-CUST-HKD",
                                       Money("10.00", "HKD"), "2025-03-03")])
        assert info.value.batch.accepted == 1
        assert ledger.balance("HKB-CUST-HKD") == Money("10.00", "HKD")
    code, out, err = wmc(db_url, "--settings", str(toml), "settle", "run",
                         str(_instructions(tmp_path)))
    assert code == 3
    assert "batch B00000002" in out and "its checkpoint was not written" in err
