"""Signed checkpoints of the ledger, and inclusion proofs of its entries against them.

A checkpoint is a small JSON statement, signed with an Ed25519 key kept outside the database
(as Certificate Transparency's signed tree heads and QLDB's digests are): the ledger's id, its
last sequence and transfer id, the size and Merkle root (RFC 6962, :mod:`ledger.merkle`) of
each of its two logs (entries, events), their combined root, the time it was made and the id
of the signing key. Whoever holds it can later prove that the ledger *extends* it, i.e. that
nothing at or before it was rewritten, reordered or cut off, even by someone who could
recompute every hash in the database: they cannot sign.

Guarantees:

- The signature covers every other field, as the canonical JSON of them (sorted keys, no
  spaces, UTF-8), so a checkpoint cannot be edited without the private key; :func:`read_checkpoint`
  and :func:`parse_checkpoint` refuse a statement whose form, combined root or signature does
  not hold, naming the file and the field.
- :func:`check_extends` recomputes, from the leaf hashes stored in the database, the root of
  the first ``size`` leaves of each log and compares it with the checkpoint's; it also requires
  the ledger's id to be the same and its sizes not smaller. It returns problems, it never fixes.
- :func:`prove` gives one entry's canonical record, its leaf index and its audit path in the
  entries tree of the checkpoint's size, with the signed checkpoint embedded; :func:`check_proof`
  checks all of that with **no database**: the signature, ``leaf_hash(record)``, the path up to
  the checkpoint's entries root, and the combined root.

Pure apart from :func:`keygen` (writes two files), :func:`read_checkpoint`,
:func:`write_checkpoint` and the key loaders (read or write files), and :func:`check_extends`
and :func:`prove` (read the database through :mod:`ledger.records`).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Connection, text

from ledger import merkle
from ledger.errors import InputError, IntegrityError, LedgerError, NotFound
from ledger.records import (
    TreeState,
    decode_record,
    entry_record_at,
    ledger_root,
    stored_leaves,
    tree_state,
)

VERSION: Final = 1
PROOF_VERSION: Final = 1
PRIVATE_KEY_FILE: Final = "wmc-checkpoint.key"
PUBLIC_KEY_FILE: Final = "wmc-checkpoint.pub"
LOGS: Final[tuple[Literal["entries", "events"], ...]] = ("entries", "events")

_FIELDS: Final = frozenset({"version", "ledger_id", "last_seq", "last_transfer_id", "entries",
                            "events", "root", "created_at", "key_id", "signature"})
_PROOF_FIELDS: Final = frozenset({"version", "entry_id", "seq", "leaf_index", "record", "leaf",
                                  "path", "checkpoint"})


class CheckpointError(IntegrityError):
    """A checkpoint or proof whose signature, roots or form do not hold (exit code 3)."""


class CheckpointNotWritten(LedgerError):
    """A batch committed, but the checkpoint the settings ask for after it was not written.

    The batch stands (``batch`` is its report); settling the same file again posts nothing and
    writes the checkpoint. Exit code 3: the anchor the settings promise is missing.
    """

    exit_code = 3

    def __init__(self, message: str, batch: Any = None) -> None:
        self.batch = batch
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed statement of the ledger's state; :meth:`to_dict` is its JSON form."""

    ledger_id: str
    last_seq: int
    last_transfer_id: int
    entries_size: int
    entries_root: bytes
    events_size: int
    events_root: bytes
    root: bytes
    created_at: str
    key_id: str
    signature: bytes
    version: int = VERSION

    def statement(self) -> dict[str, Any]:
        """Every field but the signature: what the signature covers."""
        return {
            "version": self.version,
            "ledger_id": self.ledger_id,
            "last_seq": self.last_seq,
            "last_transfer_id": self.last_transfer_id,
            "entries": {"size": self.entries_size, "root": self.entries_root.hex()},
            "events": {"size": self.events_size, "root": self.events_root.hex()},
            "root": self.root.hex(),
            "created_at": self.created_at,
            "key_id": self.key_id,
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.statement(), "signature": base64.b64encode(self.signature).decode()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def size(self, log: Literal["entries", "events"]) -> int:
        return self.entries_size if log == "entries" else self.events_size

    def log_root(self, log: Literal["entries", "events"]) -> bytes:
        return self.entries_root if log == "entries" else self.events_root


def canonical_json(value: Mapping[str, Any]) -> bytes:
    """The bytes a signature covers: sorted keys, no spaces, UTF-8 (not ASCII-escaped)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


# -- keys ---------------------------------------------------------------------------------------


def key_id(public_key: Ed25519PublicKey) -> str:
    """SHA-256 (hex) of the raw 32-byte public key: names the key a checkpoint was signed with."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def keygen(directory: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write a new Ed25519 key pair into ``directory`` as PEM: the private key
    ``wmc-checkpoint.key`` (mode 0600, PKCS#8) and the public key ``wmc-checkpoint.pub``
    (SubjectPublicKeyInfo). Refuses to overwrite either; returns the two paths."""
    folder = Path(directory)
    private_path, public_path = folder / PRIVATE_KEY_FILE, folder / PUBLIC_KEY_FILE
    for path in (private_path, public_path):
        if path.exists():
            raise InputError(f"{path}: already exists; a checkpoint key is never overwritten "
                             "(move it away first if you mean to replace it)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{folder}: cannot create the key directory: {exc}") from None
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    # O_EXCL: a file that appears between the check above and here is not overwritten either;
    # the mode is set at creation, so the private key is never readable by others, even briefly.
    for path, data, mode in ((private_path, private_pem, 0o600), (public_path, public_pem, 0o644)):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        except FileExistsError:
            raise InputError(f"{path}: already exists; a checkpoint key is never "
                             "overwritten") from None
        except OSError as exc:
            raise InputError(f"{path}: cannot write the key: {exc}") from None
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    return private_path, public_path


def _read_bytes(path: str | os.PathLike[str], what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None


def load_private_key(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """The Ed25519 private key in the PEM file at ``path`` (as :func:`keygen` writes it)."""
    try:
        key = serialization.load_pem_private_key(_read_bytes(path, "private key"), password=None)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{path}: not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(f"{path}: expected an Ed25519 private key, got {type(key).__name__}")
    return key


def load_public_key(path: str | os.PathLike[str]) -> Ed25519PublicKey:
    """The Ed25519 public key in the PEM file at ``path``."""
    try:
        key = serialization.load_pem_public_key(_read_bytes(path, "public key"))
    except (ValueError, TypeError) as exc:
        raise InputError(f"{path}: not a PEM public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise InputError(f"{path}: expected an Ed25519 public key, got {type(key).__name__}")
    return key


# -- making and reading checkpoints -------------------------------------------------------------


def make_checkpoint(state: TreeState, private_key: Ed25519PrivateKey, *,
                    at: dt.datetime) -> Checkpoint:
    """The checkpoint of ``state`` made at ``at`` (an aware time), signed with ``private_key``."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise InputError(f"a checkpoint's time must carry its offset, got {at.isoformat()}")
    unsigned = Checkpoint(
        ledger_id=state.ledger_id, last_seq=state.last_seq,
        last_transfer_id=state.last_transfer_id, entries_size=state.entries_size,
        entries_root=state.entries_root, events_size=state.events_size,
        events_root=state.events_root, root=state.root, created_at=at.isoformat(),
        key_id=key_id(private_key.public_key()), signature=b"",
    )
    if ledger_root(unsigned.entries_root, unsigned.events_root) != unsigned.root:
        # The head contradicts itself: signing it would anchor a state nobody can verify.
        raise IntegrityError("the ledger head's root is not the root of its two logs' roots: "
                             "run `wmc audit verify`")
    return replace(unsigned, signature=private_key.sign(canonical_json(unsigned.statement())))


def write_checkpoint(checkpoint: Checkpoint, path: str | os.PathLike[str]) -> Path:
    """Write ``checkpoint`` to ``path`` whole or not at all (a temporary file renamed over it)."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        with tmp.open("w", encoding="utf-8", newline="\n") as fh:
            fh.write(checkpoint.to_json())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(f"{target}: cannot write the checkpoint: "
                         f"{exc.strerror or exc}") from None
    return target


class _Form:
    """Reads the fields of a JSON object, naming the file and the field of the first bad one."""

    def __init__(self, source: str, data: object, what: str) -> None:
        if not isinstance(data, Mapping):
            raise InputError(f"{source}: expected a JSON object ({what}), "
                             f"got {type(data).__name__}")
        self.source, self.data = source, data

    def _bad(self, field: str, expected: str) -> InputError:
        got = self.data.get(field.split(".")[0])
        return InputError(f"{self.source}: field '{field}': expected {expected}, got {got!r}")

    def fields(self, names: frozenset[str]) -> None:
        missing, unknown = names - self.data.keys(), self.data.keys() - names
        if missing or unknown:
            parts = ([f"missing {', '.join(sorted(missing))}"] if missing else []) + (
                [f"unknown {', '.join(sorted(map(str, unknown)))}"] if unknown else [])
            raise InputError(f"{self.source}: expected the fields {', '.join(sorted(names))}: "
                             + "; ".join(parts))

    def count(self, field: str, value: object | None = None) -> int:
        v = self.data.get(field) if value is None else value
        if type(v) is not int or v < 0:
            raise self._bad(field, "a whole number >= 0")
        return v

    def text(self, field: str) -> str:
        v = self.data.get(field)
        if not isinstance(v, str) or not v:
            raise self._bad(field, "a non-empty string")
        return v

    def digest(self, field: str, value: object | None = None) -> bytes:
        v = self.data.get(field) if value is None else value
        if isinstance(v, str) and len(v) == 2 * merkle.HASH_SIZE:
            try:
                return bytes.fromhex(v)
            except ValueError:
                pass
        raise self._bad(field, "64 hex digits (a SHA-256)")

    def b64(self, field: str, value: object | None = None) -> bytes:
        v = self.data.get(field) if value is None else value
        if isinstance(v, str):
            try:
                return base64.b64decode(v, validate=True)
            except (binascii.Error, ValueError):
                pass
        raise self._bad(field, "base64")

    def tree(self, field: str) -> tuple[int, bytes]:
        v = self.data.get(field)
        if not isinstance(v, Mapping) or set(v) != {"size", "root"}:
            raise self._bad(field, 'an object {"size": N, "root": HEX}')
        return (self.count(f"{field}.size", v["size"]), self.digest(f"{field}.root", v["root"]))


def parse_checkpoint(data: object, public_key: Ed25519PublicKey | None, *,
                     source: str) -> Checkpoint:
    """The checkpoint in ``data`` (its JSON form), its form and combined root checked, and its
    signature too when ``public_key`` is given; errors name ``source`` and the field."""
    form = _Form(source, data, "a checkpoint")
    form.fields(_FIELDS)
    version = form.count("version")
    if version != VERSION:
        raise InputError(f"{source}: field 'version': expected {VERSION}, got {version}")
    entries_size, entries_root = form.tree("entries")
    events_size, events_root = form.tree("events")
    created_at = form.text("created_at")
    try:
        at = dt.datetime.fromisoformat(created_at)
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise InputError(f"{source}: field 'created_at': expected an ISO 8601 time with offset, "
                         f"got {created_at!r}")
    cp = Checkpoint(
        ledger_id=form.text("ledger_id"), last_seq=form.count("last_seq"),
        last_transfer_id=form.count("last_transfer_id"), entries_size=entries_size,
        entries_root=entries_root, events_size=events_size, events_root=events_root,
        root=form.digest("root"), created_at=created_at, key_id=form.text("key_id"),
        signature=form.b64("signature"), version=version,
    )
    if public_key is not None:
        expected_id = key_id(public_key)
        if cp.key_id != expected_id:
            raise CheckpointError(f"{source}: signed with key {cp.key_id}, not with the given "
                                  f"public key ({expected_id})")
        try:
            public_key.verify(cp.signature, canonical_json(cp.statement()))
        except InvalidSignature:
            raise CheckpointError(f"{source}: the signature does not verify: the checkpoint "
                                  "was altered after it was signed") from None
    if ledger_root(cp.entries_root, cp.events_root) != cp.root:
        raise CheckpointError(f"{source}: field 'root' is not the root of the entries' and the "
                              "events' roots")
    return cp


def read_checkpoint(path: str | os.PathLike[str],
                    public_key: Ed25519PublicKey | None) -> Checkpoint:
    """The checkpoint in the file at ``path``, checked as :func:`parse_checkpoint` does."""
    raw = _read_bytes(path, "checkpoint")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not JSON: {exc}") from None
    return parse_checkpoint(data, public_key, source=str(path))


# -- the ledger against a checkpoint ------------------------------------------------------------


def check_extends(conn: Connection, checkpoint: Checkpoint) -> list[str]:
    """What keeps the current ledger from extending ``checkpoint`` (nothing: it does).

    The current ledger extends a checkpoint when its id is the checkpoint's, each log holds at
    least as many leaves, and the root of each log's first ``size`` stored leaves is the
    checkpoint's root of that log. The head's counters are compared too, so that a head rewound
    to before the checkpoint is named even when the rows are still there.
    """
    problems: list[str] = []
    state = tree_state(conn)
    if state.ledger_id != checkpoint.ledger_id:
        problems.append(f"ledger id {state.ledger_id} is not the checkpoint's "
                        f"({checkpoint.ledger_id}): another ledger, or one initialised again")
    for log in LOGS:
        size = checkpoint.size(log)
        leaves = stored_leaves(conn, log)
        if len(leaves) < size:
            problems.append(f"truncated: the checkpoint has {size} {log}, the ledger "
                            f"{len(leaves)}")
            continue
        if merkle.root(leaves[:size]) != checkpoint.log_root(log):
            # The checkpoint holds the root only, not the old leaves: the bound is its size.
            problems.append(f"rewritten or reordered history in the {log} log at or before "
                            f"seq {size}")
    head = {"entries": state.entries_size, "events": state.events_size}
    for log in LOGS:
        if head[log] < checkpoint.size(log):
            problems.append(f"truncated: the checkpoint has {checkpoint.size(log)} {log}, the "
                            f"ledger head says {head[log]}")
    if state.last_seq < checkpoint.last_seq:
        problems.append(f"truncated: the checkpoint's last seq is {checkpoint.last_seq}, the "
                        f"ledger head's {state.last_seq}")
    if state.last_transfer_id < checkpoint.last_transfer_id:
        problems.append(f"the ledger head's last transfer id {state.last_transfer_id} is below "
                        f"the checkpoint's {checkpoint.last_transfer_id}")
    return problems


# -- inclusion proofs ---------------------------------------------------------------------------


def prove(conn: Connection, entry_id: str, checkpoint: Checkpoint) -> dict[str, Any]:
    """An inclusion proof (its JSON form) of entry ``entry_id`` in the entries tree of
    ``checkpoint``: the entry's canonical record (base64), its leaf index (seq - 1), the leaf
    hash, the audit path (hex, from the leaf's sibling up) and the checkpoint itself.

    Refuses an entry the checkpoint does not cover (posted after it; make a newer checkpoint),
    and a ledger that does not extend the checkpoint or whose entry no longer hashes to its
    stored leaf: the proof would not check, and the reason is an integrity failure.
    """
    row = conn.execute(text("SELECT seq FROM entries WHERE id = :id"), {"id": entry_id}).first()
    if row is None:
        raise NotFound(f"entry {entry_id!r} does not exist")
    seq = int(row[0])
    size = checkpoint.entries_size
    if seq > size:
        raise LedgerError(f"entry {entry_id} (seq {seq}) was posted after the checkpoint, which "
                          f"covers seq 1 to {size}: make a newer checkpoint")
    leaves = stored_leaves(conn, "entries", size)
    if len(leaves) < size or merkle.root(leaves) != checkpoint.entries_root:
        raise IntegrityError(f"the ledger does not extend the checkpoint of {size} entries "
                             "(run `wmc audit verify --checkpoint`)")
    record = entry_record_at(conn, seq)
    leaf = merkle.leaf_hash(record)
    if leaf != leaves[seq - 1]:
        raise IntegrityError(f"entry {entry_id} (seq {seq}) no longer hashes to its stored leaf: "
                             "its rows were changed")
    path = merkle.inclusion_proof(seq - 1, leaves)
    return {
        "version": PROOF_VERSION,
        "entry_id": entry_id,
        "seq": seq,
        "leaf_index": seq - 1,
        "record": base64.b64encode(record).decode(),
        "leaf": leaf.hex(),
        "path": [h.hex() for h in path],
        "checkpoint": checkpoint.to_dict(),
    }


@dataclass(frozen=True, slots=True)
class ProofCheck:
    """What :func:`check_proof` found: no problems means the entry is in the signed ledger."""

    entry_id: str | None
    seq: int | None
    record: bytes | None
    problems: tuple[str, ...]
    #: The record's fields, decoded (``ledger.records.decode_record``), if it decodes.
    fields: Mapping[str, Any] | None = None
    #: The embedded checkpoint, if its form and signature hold.
    checkpoint: Checkpoint | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def check_proof(proof: object, public_key: Ed25519PublicKey, *,
                source: str = "proof") -> ProofCheck:
    """Check an inclusion proof with no database: the embedded checkpoint's form and signature,
    ``leaf_hash(record)`` against the stated leaf, the audit path up to the checkpoint's
    entries root, and the combined root. Problems are values; nothing raises for a bad proof."""
    problems: list[str] = []
    entry_id: str | None = None
    seq: int | None = None
    record: bytes | None = None
    try:
        form = _Form(source, proof, "an inclusion proof")
        form.fields(_PROOF_FIELDS)
        version = form.count("version")
        if version != PROOF_VERSION:
            raise InputError(f"{source}: field 'version': expected {PROOF_VERSION}, "
                             f"got {version}")
        entry_id, seq = form.text("entry_id"), form.count("seq")
        index, record = form.count("leaf_index"), form.b64("record")
        leaf = form.digest("leaf")
        raw_path = form.data["path"]
        if not isinstance(raw_path, list):
            raise InputError(f"{source}: field 'path': expected a list of hex hashes")
        path = [form.digest(f"path[{i}]", h) for i, h in enumerate(raw_path)]
        cp = parse_checkpoint(form.data["checkpoint"], public_key,
                              source=f"{source}: checkpoint")
    except LedgerError as exc:
        return ProofCheck(entry_id, seq, record, (str(exc),))
    if index != seq - 1:
        problems.append(f"leaf index {index} is not seq {seq} - 1")
    fields: dict[str, Any] | None
    try:
        fields = decode_record(record)
    except (ValueError, UnicodeDecodeError, StopIteration) as exc:
        fields = None
        problems.append(f"the record does not decode as a wmc1 entry record: {exc}")
    else:
        # The proof's labels are not hashed: they must say what the hashed record says.
        if fields.get("record") != "entry":
            problems.append(f"the record is a {fields.get('record')} record, not an entry's")
        elif fields.get("id") != entry_id or fields.get("seq") != str(seq):
            problems.append(f"the proof names entry {entry_id} (seq {seq}), the record entry "
                            f"{fields.get('id')} (seq {fields.get('seq')})")
    if merkle.leaf_hash(record) != leaf:
        problems.append(f"the record of entry {entry_id} does not hash to the stated leaf "
                        f"{leaf.hex()}: the record was altered")
        leaf = merkle.leaf_hash(record)
    if index >= cp.entries_size:
        problems.append(f"leaf {index} is not in the checkpoint's tree of {cp.entries_size} "
                        "entries")
    else:
        try:
            computed = merkle.root_from_inclusion(index, cp.entries_size, leaf, path)
        except merkle.MerkleError as exc:
            problems.append(f"the path does not fit a tree of {cp.entries_size} entries: {exc}")
        else:
            if computed != cp.entries_root:
                problems.append(f"the path from entry {entry_id}'s record leads to root "
                                f"{computed.hex()}, not the checkpoint's entries root "
                                f"{cp.entries_root.hex()}")
    return ProofCheck(entry_id, seq, record, tuple(problems), fields, cp)


# -- a checkpoint after every batch -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AfterBatch:
    """Writes ``checkpoint-<last_seq>.json`` into ``directory`` after a committed batch."""

    directory: Path
    key: Ed25519PrivateKey

    @classmethod
    def from_settings(cls, directory: Path | None, key: Path | None) -> AfterBatch | None:
        """From ``audit.checkpoint_dir`` and ``audit.checkpoint_key``; ``None`` when unset.
        Checked before the batch, so that a bad setting refuses it with nothing written."""
        if directory is None or key is None:
            return None
        if not directory.is_dir():
            raise InputError(f"{directory}: setting 'audit.checkpoint_dir': expected an "
                             "existing directory")
        if not os.access(directory, os.W_OK | os.X_OK):
            raise InputError(f"{directory}: setting 'audit.checkpoint_dir': expected a "
                             "directory this process may write into")
        return cls(directory, load_private_key(key))

    def write(self, conn: Connection, at: dt.datetime) -> Path:
        """Sign the state as the head says it (the batch just wrote it) and write it. A file
        of the same name holding the same state is kept as it is (its earlier time stands);
        one holding another state (the events log moved since, with no entry) is kept too,
        and this one is named ``checkpoint-<last_seq>-<events_size>.json``."""
        state = tree_state(conn)
        cp = make_checkpoint(state, self.key, at=at)
        path = self.directory / f"checkpoint-{state.last_seq}.json"
        if path.exists():
            try:
                if read_checkpoint(path, None).root == cp.root:
                    return path
            except LedgerError:
                pass
            path = self.directory / f"checkpoint-{state.last_seq}-{state.events_size}.json"
        return write_checkpoint(cp, path)
