"""The Merkle tree against its plain recursive definition (RFC 6962, 2.1)."""

from __future__ import annotations

import contextlib
from hashlib import sha256

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.merkle import (
    EMPTY_ROOT,
    Frontier,
    MerkleError,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    root_from_inclusion,
)


def plain_root(leaves: list[bytes]) -> bytes:
    if not leaves:
        return sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return sha256(b"\x01" + plain_root(leaves[:k]) + plain_root(leaves[k:])).digest()


def leaves_of(n: int) -> list[bytes]:
    return [leaf_hash(f"record {i}".encode()) for i in range(n)]


def test_leaf_and_node_are_domain_separated() -> None:
    assert leaf_hash(b"x") == sha256(b"\x00x").digest()
    assert node_hash(b"a" * 32, b"b" * 32) == sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    assert root([]) == EMPTY_ROOT


@pytest.mark.parametrize("n", [*range(0, 20), 31, 32, 33, 100])
def test_root_and_frontier_match_the_definition_at_every_size(n: int) -> None:
    leaves = leaves_of(n)
    assert root(leaves) == plain_root(leaves)
    frontier = Frontier()
    for i, leaf in enumerate(leaves):
        frontier.append(leaf)
        assert frontier.root() == plain_root(leaves[:i + 1])
    again = Frontier.decode(frontier.size, frontier.encode())
    assert again.root() == frontier.root()


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 70), st.data())
def test_every_inclusion_proof_checks_and_a_wrong_leaf_fails(n: int, data: st.DataObject) -> None:
    leaves = leaves_of(n)
    index = data.draw(st.integers(0, n - 1))
    path = inclusion_proof(index, leaves)
    assert root_from_inclusion(index, n, leaves[index], path) == root(leaves)
    assert root_from_inclusion(index, n, leaf_hash(b"forged"), path) != root(leaves)
    if n > 1:
        other = (index + 1) % n
        with contextlib.suppress(MerkleError):
            assert root_from_inclusion(other, n, leaves[index], path) != root(leaves)


def test_bad_frontiers_and_proofs_are_refused() -> None:
    with pytest.raises(MerkleError):
        Frontier(3, [b"a" * 32])
    with pytest.raises(MerkleError):
        Frontier.decode(1, "zz")
    with pytest.raises(MerkleError):
        inclusion_proof(5, leaves_of(3))
    leaves = leaves_of(8)
    with pytest.raises(MerkleError):
        root_from_inclusion(0, 8, leaves[0], inclusion_proof(0, leaves)[:-1])
