"""Merkle trees over the ledger's logs, in the form of RFC 6962 (Certificate Transparency).

Pure: no database, no I/O. A log is a sequence of records; its tree's leaves are
``leaf_hash(record)`` = SHA-256(0x00 || record) and its inner nodes ``node_hash(left, right)`` =
SHA-256(0x01 || left || right), the two prefixes keeping a leaf from ever passing for a node.
For ``n`` leaves the tree splits at ``k``, the largest power of two below ``n``: the left subtree
holds the first ``k`` leaves, the right the rest, so a tree of ``n`` leaves is the tree of its
first ``k`` extended, and the root of every prefix of a log can be recomputed from its leaves.

- :class:`Frontier` appends leaves one at a time and gives the root at any size in O(log n),
  keeping only the roots of the perfect subtrees that make up the tree so far (one per bit of
  the size): what a writer keeps between batches.
- :func:`inclusion_proof` and :func:`root_from_inclusion` prove that one leaf is the ``index``-th
  of a tree of ``size`` leaves with a given root, with ``log2(size)`` hashes and nothing else.

The empty tree's root is SHA-256 of nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from hashlib import sha256
from typing import Final

HASH_SIZE: Final = 32
EMPTY_ROOT: Final = sha256(b"").digest()
_LEAF, _NODE = b"\x00", b"\x01"


class MerkleError(ValueError):
    """A frontier or proof that does not fit its tree (wrong size, length or index)."""


def leaf_hash(record: bytes) -> bytes:
    return sha256(_LEAF + record).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return sha256(_NODE + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaves: Sequence[bytes]) -> bytes:
    """The root of the tree whose leaf hashes are ``leaves``, in order."""
    if not leaves:
        return EMPTY_ROOT
    # Bottom-up over perfect subtrees, as Frontier does, without recursion.
    frontier = Frontier()
    for leaf in leaves:
        frontier.append(leaf)
    return frontier.root()


class Frontier:
    """A growing tree, as the roots of its perfect subtrees (largest, leftmost first)."""

    __slots__ = ("_nodes", "size")

    def __init__(self, size: int = 0, nodes: Sequence[bytes] = ()) -> None:
        if size < 0 or len(nodes) != size.bit_count() or any(
                len(n) != HASH_SIZE for n in nodes):
            raise MerkleError(f"a frontier of {size} leaves has {size.bit_count()} nodes, "
                              f"not {len(nodes)}")
        self.size = size
        self._nodes = list(nodes)

    def append(self, leaf: bytes) -> None:
        """Add the next leaf hash: each carry of the size merges two subtrees of one height."""
        nodes = self._nodes
        size = self.size
        while size & 1:
            leaf = sha256(_NODE + nodes.pop() + leaf).digest()
            size >>= 1
        nodes.append(leaf)
        self.size += 1

    def extend(self, leaves: Sequence[bytes]) -> None:
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        """The root at the current size: the subtrees folded from the right."""
        nodes = self._nodes
        if not nodes:
            return EMPTY_ROOT
        acc = nodes[-1]
        for node in reversed(nodes[:-1]):
            acc = sha256(_NODE + node + acc).digest()
        return acc

    @property
    def nodes(self) -> tuple[bytes, ...]:
        return tuple(self._nodes)

    def encode(self) -> str:
        """The nodes as one hex string: what the ledger head stores beside the size."""
        return b"".join(self._nodes).hex()

    @classmethod
    def decode(cls, size: int, text: str) -> Frontier:
        try:
            raw = bytes.fromhex(text)
        except ValueError as exc:
            raise MerkleError(f"frontier is not hex: {exc}") from None
        if len(raw) % HASH_SIZE:
            raise MerkleError("frontier length is not a whole number of hashes")
        return cls(size, [raw[i:i + HASH_SIZE] for i in range(0, len(raw), HASH_SIZE)])

    def copy(self) -> Frontier:
        return Frontier(self.size, self._nodes)


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of ``leaves`` (RFC 6962, 2.1.1), from the
    leaf's sibling up to the root's child."""
    n = len(leaves)
    if not 0 <= index < n:
        raise MerkleError(f"leaf {index} is not in a tree of {n} leaves")
    path: list[bytes] = []
    lo, hi = 0, n  # the subtree [lo, hi) that holds index
    while hi - lo > 1:
        k = _split(hi - lo)
        if index - lo < k:
            path.append(root(leaves[lo + k:hi]))
            hi = lo + k
        else:
            path.append(root(leaves[lo:lo + k]))
            lo += k
    path.reverse()
    return path


def root_from_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes:
    """The root that ``path`` proves leaf ``index`` of a tree of ``size`` leaves belongs to
    (RFC 9162, 2.1.3.2); compare it with the root you trust."""
    if not 0 <= index < size:
        raise MerkleError(f"leaf {index} is not in a tree of {size} leaves")
    fn, sn = index, size - 1
    acc = leaf
    for sibling in path:
        if len(sibling) != HASH_SIZE or sn == 0:
            raise MerkleError("the proof does not fit a tree of this size")
        if fn & 1 or fn == sn:
            acc = node_hash(sibling, acc)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            acc = node_hash(acc, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise MerkleError("the proof is too short for a tree of this size")
    return acc
