"""Integrity-ledger core: RFC 9162 Merkle proofs and C2SP signed-note checkpoints.

No database. Published vectors pin the formats; Hypothesis checks that proofs
generated from stored subtree hashes verify with the standalone verifier.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from infrastructure import merkle
from infrastructure.note_signing import format_checkpoint_body, format_verifier_key, sign_checkpoint, sign_note
from infrastructure.svl_verify import (
    EMPTY_ROOT,
    MalformedError,
    SignatureError,
    VerificationError,
    leaf_hash,
    node_hash,
    parse_checkpoint,
    parse_note,
    parse_verifier_key,
    root_from_leaf_hashes,
    verify_checkpoint,
    verify_consistency,
    verify_inclusion,
    verify_note,
)

h = bytes.fromhex

# --- published vectors -------------------------------------------------------

# RFC 6962 hasher vectors from transparency-dev/merkle, rfc6962/rfc6962_test.go
# (TestRFC6962Hasher).
HASHER_VECTORS = [
    (EMPTY_ROOT, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    (leaf_hash(b""), "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    (leaf_hash(b"L123456"), "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"),
    (node_hash(b"N123", b"N456"), "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"),
]

# The CT reference tree: leaves, roots of every prefix, and known proofs, from
# transparency-dev/merkle, proof/verify_test.go (same data as the
# certificate-transparency C++/Go merkle tree tests). Leaf numbers there are
# 1-based; here they are converted to 0-based indices.
CT_LEAVES = [h(x) for x in (
    "", "00", "10", "2021", "3031", "40414243",
    "5051525354555657", "606162636465666768696a6b6c6d6e6f",
)]
CT_ROOTS = [h(x) for x in (
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]
CT_INCLUSION = [  # (0-based index, tree size, proof)
    (0, 1, []),
    (0, 8, [h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")]),
    (5, 8, [h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
    (2, 3, [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (1, 5, [h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")]),
]
CT_CONSISTENCY = [  # (size1, size2, proof)
    (1, 1, []),
    (1, 8, [h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")]),
    (6, 8, [h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
    (2, 5, [h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")]),
    (6, 7, [h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
]
SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")

# Signed-note vectors from golang.org/x/mod, sumdb/note/note_test.go.
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
NOTE_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZS"
    "NXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01o"
    "OTGwnWLox33WWd1RvMc+QQ=\n"
)

# A production checkpoint: retrieved from https://sum.golang.org/latest on
# 2024-09-23, as recorded in sigsum/sigsum-go pkg/checkpoint/checkpoint_test.go
# (TestGoSumDBCheckpoint); key from golang/go src/cmd/go/internal/modfetch/key.go.
GO_SUMDB_VKEY = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
GO_SUMDB_CHECKPOINT = (
    "go.sum database tree\n"
    "30055305\n"
    "mXfgRcJ0bG0j3CPdKwgGWtUzBUbX67saZGRmFuJGGsM=\n"
    "\n"
    "— sum.golang.org Az3grpgEild5qw7+5dtV13Kf1C2Xurm8q4fhdxvcsDHnqNTaxL2AFjBY+2TyGKev"
    "ucFcAAlWFJJYle3EJlDCrQ+y3A8=\n"
)

# The example in the C2SP tlog-checkpoint spec (its key is not published, so
# this one can only be parsed).
C2SP_EXAMPLE_CHECKPOINT = (
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4"
    "URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
)


def _ed25519_from_skey(skey: str) -> Ed25519PrivateKey:
    typed = base64.b64decode(skey.split("+", 4)[4])
    assert typed[0] == 0x01
    return Ed25519PrivateKey.from_private_bytes(typed[1:])


# --- helpers -------------------------------------------------------------------


def _leaves(size: int, salt: bytes = b"") -> list[bytes]:
    return [leaf_hash(salt + i.to_bytes(4, "big")) for i in range(size)]


class CountingStore:
    """Wraps a store to count round-trips and node reads."""

    def __init__(self, inner: merkle.MemorySubtreeStore, bulk: bool = True) -> None:
        self.inner = inner
        self.round_trips = 0
        self.nodes_read = 0
        if bulk:
            self.nodes = self._nodes

    def node(self, level: int, index: int) -> bytes:
        self.round_trips += 1
        self.nodes_read += 1
        return self.inner.node(level, index)

    def _nodes(self, keys: list[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        self.round_trips += 1
        self.nodes_read += len(keys)
        return self.inner.nodes(keys)


def _flip(digest: bytes, bit: int = 3) -> bytes:
    return bytes([digest[0] ^ (1 << bit)]) + digest[1:]


def _corrupted_inclusion(index, size, proof, root, leaf):
    """Probes modelled on transparency-dev's corruptInclusionProof: each must fail."""
    probes = [
        (index - 1, size, proof, root, leaf),
        (index + 1, size, proof, root, leaf),
        (index ^ 2, size, proof, root, leaf),
        (index, size * 2, proof, root, leaf),
        (index, size // 2, proof, root, leaf),
        (index, size, proof, root, b"WrongLeaf"),
        (index, size, proof, root, _flip(leaf)),
        (index, size, proof, EMPTY_ROOT, leaf),
        (index, size, proof, SOME_HASH, leaf),
        (index, size, proof + [b""], root, leaf),
        (index, size, proof + [root], root, leaf),
        (index, size, [b""] + proof, root, leaf),
        (index, size, [root] + proof, root, leaf),
    ]
    probes += [
        (index, size, proof[:i] + [_flip(proof[i])] + proof[i + 1:], root, leaf)
        for i in range(len(proof))
    ]
    if proof:
        probes.append((index, size, proof[:-1], root, leaf))
    if len(proof) > 1:
        probes.append((index, size, [proof[0], SOME_HASH] + proof[1:], root, leaf))
    return probes


def _corrupted_consistency(size1, size2, proof, root1, root2):
    """Probes modelled on transparency-dev's corruptConsistencyProof."""
    probes = [
        (size1 - 1, size2, proof, root1, root2),
        (size1 + 1, size2, proof, root1, root2),
        (size1 ^ 2, size2, proof, root1, root2),
        (size1, size2 * 2, proof, root1, root2),
        (size1, size2 // 2, proof, root1, root2),
        (size1, size2, proof, b"WrongRoot", root2),
        (size1, size2, proof, root1, b"WrongRoot"),
        (size1, size2, proof, _flip(root1), root2),
        (size1, size2, proof, root1, _flip(root2)),
        (size1, size2, proof, root2, root1),
        (size1, size2, [], root1, root2),
        (size1, size2, proof + [b""], root1, root2),
        (size1, size2, proof + [root1], root1, root2),
        (size1, size2, proof + [root2], root1, root2),
        (size1, size2, [b""] + proof, root1, root2),
        (size1, size2, [root1] + proof, root1, root2),
        (size1, size2, [root2] + proof, root1, root2),
        (size1, size2, [proof[0]] + proof, root1, root2),
        (size1, size2, proof[:-1], root1, root2),
    ]
    probes += [
        (size1, size2, proof[:i] + [_flip(proof[i], 4)] + proof[i + 1:], root1, root2)
        for i in range(len(proof))
    ]
    return probes


@pytest.fixture(scope="module")
def ct_store() -> merkle.MemorySubtreeStore:
    return merkle.MemorySubtreeStore.from_leaf_hashes(leaf_hash(x) for x in CT_LEAVES)


# --- hashing and roots ---------------------------------------------------------


@pytest.mark.parametrize(("got", "want"), HASHER_VECTORS)
def test_hasher_matches_rfc6962_vectors(got: bytes, want: str) -> None:
    assert got.hex() == want


def test_roots_of_the_ct_reference_tree(ct_store) -> None:
    hashes = [leaf_hash(x) for x in CT_LEAVES]
    frontier = merkle.Frontier()
    for size, want in enumerate(CT_ROOTS, start=1):
        frontier.append(hashes[size - 1])
        assert root_from_leaf_hashes(hashes[:size]) == want
        assert merkle.root_hash(ct_store, size) == want
        assert frontier.root() == want


def test_empty_tree_root() -> None:
    assert root_from_leaf_hashes([]) == EMPTY_ROOT
    assert merkle.root_hash(merkle.MemorySubtreeStore(), 0) == EMPTY_ROOT
    assert merkle.Frontier().root() == EMPTY_ROOT


# --- inclusion -----------------------------------------------------------------


@pytest.mark.parametrize(("index", "size", "proof"), CT_INCLUSION)
def test_inclusion_proofs_match_ct_vectors(ct_store, index, size, proof) -> None:
    leaf = leaf_hash(CT_LEAVES[index])
    root = CT_ROOTS[size - 1]
    assert merkle.inclusion_proof(ct_store, index, size) == proof
    assert verify_inclusion(leaf, index, size, proof, root)
    for probe in _corrupted_inclusion(index, size, proof, root, leaf):
        bad_index, bad_size, bad_proof, bad_root, bad_leaf = probe
        assert not verify_inclusion(bad_leaf, bad_index, bad_size, bad_proof, bad_root), probe


@pytest.mark.parametrize(
    "args",
    [
        (SOME_HASH, 0, 0, [], EMPTY_ROOT),  # nothing is in the empty tree
        (SOME_HASH, 1, 0, [], EMPTY_ROOT),
        (SOME_HASH, 2, 1, [], SOME_HASH),  # index beyond size
        (SOME_HASH, -1, 1, [], SOME_HASH),
        (SOME_HASH, 0, 1, [], b""),  # wrong hash sizes
        (b"", 0, 1, [], SOME_HASH),
        (b"", 0, 1, [], b""),
        (SOME_HASH, True, 2, [SOME_HASH], SOME_HASH),  # bool is not an index
        (SOME_HASH, 0, 2, "not a list", SOME_HASH),
        (SOME_HASH, 0, 2, [None], SOME_HASH),
        (SOME_HASH, 0, 2**64, [SOME_HASH] * 64, SOME_HASH),  # beyond uint64
        (None, None, None, None, None),
        ("text", "0", 1.0, [], "root"),
    ],
)
def test_inclusion_rejects_malformed_input_without_raising(args) -> None:
    assert verify_inclusion(*args) is False


def test_single_leaf_tree_needs_an_empty_proof() -> None:
    leaf = leaf_hash(b"data")
    assert verify_inclusion(leaf, 0, 1, [], leaf)
    assert not verify_inclusion(leaf, 0, 1, [leaf], leaf)


# --- consistency ---------------------------------------------------------------


@pytest.mark.parametrize(("size1", "size2", "proof"), CT_CONSISTENCY)
def test_consistency_proofs_match_ct_vectors(ct_store, size1, size2, proof) -> None:
    root1, root2 = CT_ROOTS[size1 - 1], CT_ROOTS[size2 - 1]
    assert merkle.consistency_proof(ct_store, size1, size2) == proof
    assert verify_consistency(size1, size2, proof, root1, root2)
    if proof:
        for probe in _corrupted_consistency(size1, size2, proof, root1, root2):
            assert not verify_consistency(*probe), probe


ROOT_A, ROOT_B = hashlib.sha256(b"a").digest(), hashlib.sha256(b"b").digest()


@pytest.mark.parametrize(
    ("size1", "size2", "root1", "root2", "proof", "ok"),
    [
        # Adapted from transparency-dev TestVerifyConsistency. Deviation: a head
        # of size 0 must carry the empty-tree root, which they do not check.
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [], True),
        (0, 0, ROOT_A, ROOT_A, [], False),
        (0, 1, EMPTY_ROOT, ROOT_B, [], True),
        (0, 1, ROOT_A, ROOT_B, [], False),
        (1, 1, ROOT_B, ROOT_B, [], True),
        (1, 1, ROOT_A, ROOT_B, [], False),
        (1, 0, ROOT_A, ROOT_B, [], False),  # time travel to the past
        (2, 1, ROOT_A, ROOT_B, [], False),
        (1, 2, ROOT_A, ROOT_B, [], False),  # empty proof
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),  # roots match, proof is not empty
        (0, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
        (1, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
        (1, 1, b"short", b"short", [], False),
        (-1, 1, EMPTY_ROOT, ROOT_A, [], False),
        (True, 2, ROOT_A, ROOT_B, [ROOT_A], False),
        (1, 2**64, ROOT_A, ROOT_B, [ROOT_A], False),
        (1, 2, ROOT_A, ROOT_B, "proof", False),
        (None, None, None, None, None, False),
    ],
)
def test_consistency_edge_cases(size1, size2, root1, root2, proof, ok) -> None:
    assert verify_consistency(size1, size2, proof, root1, root2) is ok


# --- every proof over small trees ---------------------------------------------


def test_every_proof_for_every_size_up_to_40() -> None:
    hashes = _leaves(40)
    store = merkle.MemorySubtreeStore.from_leaf_hashes(hashes)
    roots = [root_from_leaf_hashes(hashes[:n]) for n in range(41)]
    for size in range(1, 41):
        assert merkle.root_hash(store, size) == roots[size]
        for index in range(size):
            proof = merkle.inclusion_proof(store, index, size)
            assert verify_inclusion(hashes[index], index, size, proof, roots[size])
            assert not verify_inclusion(hashes[index], index, size, proof, roots[size - 1])
        for old in range(size + 1):
            proof = merkle.consistency_proof(store, old, size)
            assert verify_consistency(old, size, proof, roots[old], roots[size])


# --- properties ------------------------------------------------------------------

sizes = st.integers(min_value=1, max_value=600)
salts = st.binary(max_size=8)


@settings(max_examples=60, deadline=None)
@given(size=sizes, salt=salts, data=st.data())
def test_inclusion_proofs_verify_and_tampering_fails(size, salt, data) -> None:
    hashes = _leaves(size, salt)
    store = merkle.MemorySubtreeStore.from_leaf_hashes(hashes)
    root = root_from_leaf_hashes(hashes)
    for index in data.draw(st.lists(st.integers(0, size - 1), min_size=1, max_size=20)):
        proof = merkle.inclusion_proof(store, index, size)
        assert verify_inclusion(hashes[index], index, size, proof, root)
        assert not verify_inclusion(_flip(hashes[index]), index, size, proof, root)
        assert not verify_inclusion(hashes[index], index, size, proof, _flip(root))
        other = data.draw(st.integers(0, size - 1).filter(lambda i: i != index), label="other")
        if size > 1:
            assert not verify_inclusion(hashes[index], other, size, proof, root)
            assert not verify_inclusion(hashes[other], index, size, proof, root)


@settings(max_examples=60, deadline=None)
@given(size=sizes, salt=salts, data=st.data())
def test_consistency_proofs_verify_and_tampering_fails(size, salt, data) -> None:
    hashes = _leaves(size, salt)
    store = merkle.MemorySubtreeStore.from_leaf_hashes(hashes)
    new_root = root_from_leaf_hashes(hashes)
    for old in data.draw(st.lists(st.integers(0, size), min_size=1, max_size=10)):
        old_root = root_from_leaf_hashes(hashes[:old])
        proof = merkle.consistency_proof(store, old, size)
        assert verify_consistency(old, size, proof, old_root, new_root)
        if 0 < old < size:
            assert not verify_consistency(old, size, proof, _flip(old_root), new_root)
            assert not verify_consistency(old, size, proof, old_root, _flip(new_root))
            # (No "size + 1" probe: RFC 9162 proofs do not always bind size2,
            # e.g. 1->3 also verifies as 1->4; the signed checkpoint binds it.)
            forked = hashes[:old - 1] + [_flip(hashes[old - 1])] + hashes[old:]
            assert not verify_consistency(
                old, size, proof, old_root, root_from_leaf_hashes(forked)
            )


@settings(max_examples=30, deadline=None)
@given(size=st.integers(0, 200), salt=salts)
def test_appending_matches_the_reference_root_at_every_size(size, salt) -> None:
    hashes = _leaves(size, salt)
    store = merkle.MemorySubtreeStore()
    frontier = merkle.Frontier()
    for n, digest in enumerate(hashes, start=1):
        rows_store = store.append(digest)
        rows_frontier = frontier.append(digest)
        assert rows_store == rows_frontier
        assert rows_store == merkle.nodes_completed_by_append(
            n - 1, digest, store.nodes(merkle.append_keys(n - 1))
        )
        want = root_from_leaf_hashes(hashes[:n])
        assert frontier.root() == want
        assert merkle.root_hash(store, n) == want
    # Every complete node, no more: 2n - popcount(n) rows, under two per leaf.
    assert len(store) == 2 * size - bin(size).count("1")


@settings(max_examples=30, deadline=None)
@given(size=st.integers(0, 600), extra=st.integers(1, 40), salt=salts)
def test_frontier_loaded_from_store_continues_the_tree(size, extra, salt) -> None:
    hashes = _leaves(size + extra, salt)
    store = merkle.MemorySubtreeStore.from_leaf_hashes(hashes[:size])
    frontier = merkle.Frontier.load(store, size)
    assert frontier.root() == root_from_leaf_hashes(hashes[:size])
    for digest in hashes[size:]:
        store.put(frontier.append(digest))
    assert frontier.size == size + extra
    assert frontier.root() == root_from_leaf_hashes(hashes)
    assert merkle.root_hash(store, size + extra) == frontier.root()
    assert set(frontier.nodes()) == set(merkle.frontier_keys(size + extra))


# --- storage access: one round-trip, O(log n) nodes ---------------------------


@settings(max_examples=50, deadline=None)
@given(size=st.integers(1, 5000), data=st.data())
def test_each_proof_is_one_round_trip_of_logarithmic_size(size, data) -> None:
    store = merkle.MemorySubtreeStore.from_leaf_hashes(_leaves(size))
    bound = 2 * size.bit_length()
    index = data.draw(st.integers(0, size - 1))
    old = data.draw(st.integers(0, size))
    for make_proof, needed in [
        (lambda s: merkle.inclusion_proof(s, index, size),
         merkle.needed_nodes_for_inclusion(index, size)),
        (lambda s: merkle.consistency_proof(s, old, size),
         merkle.needed_nodes_for_consistency(old, size)),
        (lambda s: merkle.root_hash(s, size), merkle.needed_nodes_for_root(size)),
    ]:
        counting = CountingStore(store)
        make_proof(counting)
        assert counting.round_trips <= 1
        assert counting.nodes_read == len(needed) <= bound
        # The prefetched nodes alone are enough to serve the proof.
        prefetched = merkle.MemorySubtreeStore(store.nodes(sorted(needed)))
        assert make_proof(prefetched) == make_proof(store)


def test_store_without_bulk_reads_still_works() -> None:
    hashes = _leaves(77)
    counting = CountingStore(merkle.MemorySubtreeStore.from_leaf_hashes(hashes), bulk=False)
    proof = merkle.inclusion_proof(counting, 50, 77)
    assert verify_inclusion(hashes[50], 50, 77, proof, root_from_leaf_hashes(hashes))
    assert counting.nodes_read == len(merkle.needed_nodes_for_inclusion(50, 77))


def test_proofs_beyond_the_stored_tree_fail_loudly() -> None:
    store = merkle.MemorySubtreeStore.from_leaf_hashes(_leaves(10))
    with pytest.raises(merkle.MissingNodeError):
        merkle.inclusion_proof(store, 3, 11)
    with pytest.raises(merkle.MissingNodeError):
        merkle.consistency_proof(store, 5, 12)
    with pytest.raises(merkle.MissingNodeError):
        merkle.Frontier.load(store, 11)
    with pytest.raises(ValueError):
        merkle.inclusion_proof(store, 10, 10)
    with pytest.raises(ValueError):
        merkle.consistency_proof(store, 6, 5)


def test_frontier_and_append_keys() -> None:
    assert merkle.frontier_keys(0) == []
    assert merkle.frontier_keys(13) == [(3, 0), (2, 2), (0, 12)]
    assert merkle.append_keys(12) == []
    assert merkle.append_keys(11) == [(0, 10), (1, 4)]
    assert set(merkle.append_keys(11)) <= set(merkle.frontier_keys(11))


def test_subtree_hash_accepts_only_rfc_shaped_ranges() -> None:
    hashes = _leaves(16)
    store = merkle.MemorySubtreeStore.from_leaf_hashes(hashes)
    assert merkle.subtree_hash(store, 8, 14) == root_from_leaf_hashes(hashes[8:14])
    assert merkle.subtree_hash(store, 5, 6) == hashes[5]
    for start, end in [(2, 5), (4, 9), (3, 3), (6, 5)]:
        with pytest.raises(ValueError):
            merkle.subtree_hash(store, start, end)


# --- signed notes: published vectors -----------------------------------------


def test_go_note_verifier_key_parses() -> None:
    key = parse_verifier_key(PETER_VKEY)
    assert (key.name, key.key_id) == ("PeterNeumann", 0xC74F20A3)
    assert str(key) == PETER_VKEY
    assert format_verifier_key(key.name, key.public_key) == PETER_VKEY


def test_signing_reproduces_the_go_note_signature_byte_for_byte() -> None:
    # Ed25519 is deterministic, so the same key and text must give Go's output.
    private = _ed25519_from_skey(PETER_SKEY)
    assert sign_note(NOTE_TEXT, private, "PeterNeumann") == NOTE_TEXT + "\n" + PETER_SIG
    assert format_verifier_key("PeterNeumann", private.public_key()) == PETER_VKEY


def test_go_note_with_two_signers_verifies_for_each_key() -> None:
    message = NOTE_TEXT + "\n" + PETER_SIG + ENOCH_SIG
    for vkey in (PETER_VKEY, ENOCH_VKEY):
        note = verify_note(message, vkey)
        assert note.text == NOTE_TEXT
        assert [s.name for s in note.signatures] == ["PeterNeumann", "EnochRoot"]
    stranger = format_verifier_key("Stranger", Ed25519PrivateKey.generate().public_key())
    with pytest.raises(SignatureError):
        verify_note(message, stranger)


def test_go_note_corrupted_signature_from_known_key_is_rejected() -> None:
    bad = NOTE_TEXT + "\n" + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    with pytest.raises(VerificationError):
        verify_note(bad, PETER_VKEY)


@pytest.mark.parametrize(
    "message",
    [  # the "invalid encoded message syntax" list from Go's TestOpen
        NOTE_TEXT,
        NOTE_TEXT + "\n",
        NOTE_TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + NOTE_TEXT + "\n" + PETER_SIG,
        b"\xff" + (NOTE_TEXT + "\n" + PETER_SIG).encode(),
        NOTE_TEXT + "\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
        NOTE_TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
        NOTE_TEXT + "\n" + PETER_SIG * 101,
    ],
)
def test_go_malformed_notes_are_rejected(message) -> None:
    with pytest.raises(MalformedError):
        verify_note(message, PETER_VKEY)


def test_go_verifier_key_manglings_are_rejected() -> None:
    # As Go's TestNewVerifier: every proper substring and every one-byte change.
    manglings = {
        PETER_VKEY[i:j]
        for i in range(len(PETER_VKEY) + 1)
        for j in range(i + 1, len(PETER_VKEY) + 1)
        if (i, j) != (0, len(PETER_VKEY))
    }
    manglings |= {
        PETER_VKEY[:i] + chr(ord(PETER_VKEY[i]) + 1) + PETER_VKEY[i + 1:]
        for i in range(len(PETER_VKEY))
    }
    manglings |= {
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    }
    for vkey in manglings:
        with pytest.raises(MalformedError):
            parse_verifier_key(vkey)


def test_production_sumdb_checkpoint_verifies() -> None:
    checkpoint = verify_checkpoint(GO_SUMDB_CHECKPOINT, GO_SUMDB_VKEY, origin="go.sum database tree")
    assert checkpoint.tree_size == 30055305
    assert base64.b64encode(checkpoint.root_hash) == b"mXfgRcJ0bG0j3CPdKwgGWtUzBUbX67saZGRmFuJGGsM="
    assert checkpoint.time is None and checkpoint.extensions == ()
    tampered = GO_SUMDB_CHECKPOINT.replace("30055305", "30055306")
    with pytest.raises(SignatureError):
        verify_checkpoint(tampered, GO_SUMDB_VKEY)


def test_c2sp_spec_example_checkpoint_parses() -> None:
    checkpoint = parse_checkpoint(C2SP_EXAMPLE_CHECKPOINT)
    assert checkpoint.origin == "example.com/behind-the-sofa"
    assert checkpoint.tree_size == 20852163
    assert len(checkpoint.root_hash) == 32
    assert checkpoint.signatures[0].name == "example.com/behind-the-sofa"
    assert len(checkpoint.signatures[0].signature) == 64


# --- our checkpoints ------------------------------------------------------------

ORIGIN = "ledger.example.org/supervision"
SIGNED_AT = datetime(2025, 11, 24, 23, 26, 5, 123456, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def log_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def log_vkey(log_key) -> str:
    return format_verifier_key(ORIGIN, log_key.public_key())


@pytest.fixture(scope="module")
def signed(log_key) -> str:
    root = root_from_leaf_hashes(_leaves(1234))
    return sign_checkpoint(ORIGIN, 1234, root, log_key, ORIGIN, SIGNED_AT)


def test_checkpoint_roundtrip(signed, log_vkey) -> None:
    root = root_from_leaf_hashes(_leaves(1234))
    assert signed.startswith(
        f"{ORIGIN}\n1234\n{base64.b64encode(root).decode()}\ntime 2025-11-24T23:26:05Z\n\n— {ORIGIN} "
    )
    checkpoint = verify_checkpoint(signed, log_vkey, origin=ORIGIN)
    assert (checkpoint.origin, checkpoint.tree_size, checkpoint.root_hash) == (ORIGIN, 1234, root)
    assert checkpoint.time == SIGNED_AT.replace(microsecond=0)
    assert checkpoint.extensions == ("time 2025-11-24T23:26:05Z",)
    assert checkpoint.body == format_checkpoint_body(ORIGIN, 1234, root, SIGNED_AT)
    assert parse_checkpoint(signed.encode()) == checkpoint


def test_checkpoint_time_is_normalised_to_utc(log_key, log_vkey) -> None:
    oslo = timezone(timedelta(hours=1))
    note = sign_checkpoint(ORIGIN, 0, EMPTY_ROOT, log_key, time=SIGNED_AT.astimezone(oslo))
    assert "\ntime 2025-11-24T23:26:05Z\n" in note
    assert verify_checkpoint(note, log_vkey).time == SIGNED_AT.replace(microsecond=0)


def test_checkpoint_without_time(log_key, log_vkey) -> None:
    note = sign_checkpoint(ORIGIN, 0, EMPTY_ROOT, log_key)
    assert note.startswith(f"{ORIGIN}\n0\n{base64.b64encode(EMPTY_ROOT).decode()}\n\n")
    assert verify_checkpoint(note, log_vkey).time is None


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("\n1234\n", "\n1235\n"),
        (ORIGIN + "\n", "ledger.example.org/other\n"),
        ("2025-11-24T23:26:05Z", "2025-11-24T23:26:06Z"),
        ("\ntime ", "\nlate "),
    ],
)
def test_tampered_checkpoint_body_fails(signed, log_vkey, old, new) -> None:
    tampered = signed.replace(old, new, 1)
    assert tampered != signed
    with pytest.raises(SignatureError):
        verify_checkpoint(tampered, log_vkey)


def test_tampered_root_fails(signed, log_vkey) -> None:
    body, rest = signed.split("\n\n", 1)
    lines = body.split("\n")
    lines[2] = base64.b64encode(_flip(base64.b64decode(lines[2]))).decode()
    with pytest.raises(SignatureError):
        verify_checkpoint("\n".join(lines) + "\n\n" + rest, log_vkey)


def test_wrong_key_fails(signed) -> None:
    impostor = Ed25519PrivateKey.generate().public_key()
    with pytest.raises(SignatureError):
        verify_checkpoint(signed, format_verifier_key(ORIGIN, impostor))
    with pytest.raises(SignatureError):
        verify_checkpoint(signed, PETER_VKEY)


def test_right_key_wrong_log_fails(signed, log_vkey) -> None:
    with pytest.raises(VerificationError):
        verify_checkpoint(signed, log_vkey, origin="ledger.example.org/elsewhere")


def test_forged_signature_under_our_key_id_fails(signed, log_vkey) -> None:
    body, _ = signed.split("\n\n", 1)
    key = parse_verifier_key(log_vkey)
    forged = key.key_id.to_bytes(4, "big") + bytes(64)
    note = f"{body}\n\n— {ORIGIN} {base64.b64encode(forged).decode()}\n"
    with pytest.raises(SignatureError):
        verify_checkpoint(note, log_vkey)
    # A valid signature does not excuse a forged one beside it (spec: SHOULD reject).
    with pytest.raises(SignatureError):
        verify_checkpoint(signed + note.split("\n\n", 1)[1], log_vkey)


def test_cosignatures_from_other_keys_are_ignored(signed, log_vkey) -> None:
    witness = Ed25519PrivateKey.generate()
    body = signed.split("\n\n", 1)[0] + "\n"
    cosigned = signed + sign_note(body, witness, "witness.example.net/w1").split("\n\n", 1)[1]
    checkpoint = verify_checkpoint(cosigned, log_vkey)
    assert [s.name for s in checkpoint.signatures] == [ORIGIN, "witness.example.net/w1"]


GOOD_ROOT = base64.b64encode(EMPTY_ROOT).decode()


@pytest.mark.parametrize(
    "body",
    [
        f"{ORIGIN}\n0\n",  # no root line
        f"{ORIGIN}\n00\n{GOOD_ROOT}\n",  # leading zero
        f"{ORIGIN}\n-1\n{GOOD_ROOT}\n",
        f"{ORIGIN}\n１\n{GOOD_ROOT}\n",  # non-ASCII digit
        f"{ORIGIN}\n{2**64}\n{GOOD_ROOT}\n",
        f"{ORIGIN}\n0\n{base64.b64encode(bytes(31)).decode()}\n",  # short root
        f"{ORIGIN}\n0\n{GOOD_ROOT[:-1]}\n",  # broken base64
        f"{ORIGIN}\n0\n{GOOD_ROOT[:-2]}V=\n",  # non-canonical base64
        f"\n0\n{GOOD_ROOT}\n",  # empty origin
        f"{ORIGIN}\n0\n{GOOD_ROOT}\n\nextension after blank\n",  # empty extension line
        f"{ORIGIN}\n0\n{GOOD_ROOT}\ntime 2025-11-24T23:26:05Z\ntime 2025-11-24T23:26:06Z\n",
        f"{ORIGIN}\n0\n{GOOD_ROOT}\ntime 2025-11-24T23:26:05+00:00\n",
        f"{ORIGIN}\n0\n{GOOD_ROOT}\ntime 2025-11-24T23:26:05.5Z\n",
        f"{ORIGIN}\n0\n{GOOD_ROOT}\ntime 2025-02-30T00:00:00Z\n",
        f"{ORIGIN}\n0\n{GOOD_ROOT}\ntime 1764026765\n",
    ],
)
def test_malformed_checkpoints_are_rejected(log_key, log_vkey, body) -> None:
    note = sign_note(body, log_key, ORIGIN)  # validly signed, badly formed
    with pytest.raises(MalformedError):
        verify_checkpoint(note, log_vkey)
    with pytest.raises(MalformedError):
        parse_checkpoint(note)


@pytest.mark.parametrize(
    "note",
    [
        "",
        "no signature block\n",
        f"{ORIGIN}\n0\n{GOOD_ROOT}\n\n",
        f"{ORIGIN}\n0\n{GOOD_ROOT}\n\n- {ORIGIN} AAAAAAA=\n",  # hyphen, not em dash
        f"{ORIGIN}\n0\n{GOOD_ROOT}\n\n— {ORIGIN} AAAA\n",  # too short to hold a key ID
        f"{ORIGIN}\n0\n{GOOD_ROOT}\n\n— {ORIGIN}\n",
        f"{ORIGIN}\r\n0\n{GOOD_ROOT}\n\n— {ORIGIN} AAAAAAA=\n",
        f"{ORIGIN}\n0\n{GOOD_ROOT}\n\n— {ORIGIN} AAAAAAA=",
        f"{ORIGIN}\n0\n{GOOD_ROOT}\n\n— a+b AAAAAAA=\n",
        "\ud800\n\n— a AAAAAAA=\n",  # lone surrogate: not encodable as UTF-8
        None,
    ],
)
def test_malformed_notes_are_rejected(log_vkey, note) -> None:
    with pytest.raises(MalformedError):
        parse_note(note)
    with pytest.raises(MalformedError):
        verify_checkpoint(note, log_vkey)


def test_signing_refuses_bad_input(log_key) -> None:
    with pytest.raises(ValueError):
        sign_checkpoint(ORIGIN, 1, EMPTY_ROOT, log_key, time=datetime(2025, 1, 1))  # naive
    with pytest.raises(ValueError):
        sign_checkpoint("two\nlines", 1, EMPTY_ROOT, log_key)
    with pytest.raises(ValueError):
        sign_checkpoint(ORIGIN, -1, EMPTY_ROOT, log_key)
    with pytest.raises(ValueError):
        sign_checkpoint(ORIGIN, 1, b"short", log_key)
    with pytest.raises(ValueError):
        sign_checkpoint(ORIGIN, 1, EMPTY_ROOT, log_key, key_name="has space")
    with pytest.raises(ValueError):
        format_verifier_key("a+b", bytes(32))
    with pytest.raises(ValueError):
        format_verifier_key("name", bytes(31))


def test_ledger_proofs_and_checkpoints_together(log_key, log_vkey) -> None:
    """The end-to-end story an auditor checks: two signed heads, consistent,
    and an event included in the later one."""
    hashes = [leaf_hash(f"event {i}".encode()) for i in range(300)]
    store = merkle.MemorySubtreeStore.from_leaf_hashes(hashes)
    old = verify_checkpoint(
        sign_checkpoint(ORIGIN, 120, merkle.root_hash(store, 120), log_key, time=SIGNED_AT), log_vkey
    )
    new = verify_checkpoint(
        sign_checkpoint(ORIGIN, 300, merkle.root_hash(store, 300), log_key, time=SIGNED_AT), log_vkey
    )
    assert verify_consistency(
        old.tree_size, new.tree_size, merkle.consistency_proof(store, 120, 300),
        old.root_hash, new.root_hash,
    )
    assert verify_inclusion(
        leaf_hash(b"event 250"), 250, new.tree_size, merkle.inclusion_proof(store, 250, 300),
        new.root_hash,
    )


def test_many_inclusion_proofs_fetched_together_equal_each_one_alone() -> None:
    from infrastructure.svl_verify import leaf_hash, verify_inclusion

    leaves = [leaf_hash(bytes([n % 256, n // 256])) for n in range(77)]
    store = merkle.MemorySubtreeStore.from_leaf_hashes(leaves)
    together = merkle.inclusion_proofs(store, [0, 5, 31, 64, 76], 77)
    assert together == {i: merkle.inclusion_proof(store, i, 77) for i in (0, 5, 31, 64, 76)}
    root = merkle.root_hash(store, 77)
    assert all(verify_inclusion(leaves[i], i, 77, proof, root) for i, proof in together.items())
