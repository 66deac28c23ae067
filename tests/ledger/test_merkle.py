"""RFC 6962 tree heads and proofs, against Certificate Transparency's published test vectors."""

from __future__ import annotations

import hashlib

import pytest

from ethics_audit.ledger import merkle

# certificate-transparency-go merkletree test data (the same leaves as the C++ and Java logs)
LEAVES = [
    bytes.fromhex(h)
    for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def _recursive_mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 §2.1 written as the RFC writes it, to check the iterative version against."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return merkle.leaf_hash(leaves[0])
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return merkle.node_hash(_recursive_mth(leaves[:k]), _recursive_mth(leaves[k:]))


def test_roots_match_the_ct_test_vectors() -> None:
    for n in range(1, 9):
        assert merkle.root(LEAVES[:n]).hex() == ROOTS[n - 1]
    assert merkle.root([]).hex() == hashlib.sha256(b"").hexdigest()


def test_iterative_root_is_the_rfc_definition() -> None:
    leaves = [bytes([i]) * 3 for i in range(70)]
    for n in range(0, 70):
        assert merkle.root(leaves[:n]) == _recursive_mth(leaves[:n])


def test_inclusion_proof_ct_vector() -> None:
    # PATH(0, D[0:8]) from the CT test data
    proof = merkle.inclusion_proof(LEAVES, 0)
    assert [p.hex() for p in proof] == [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ]


def test_consistency_proof_ct_vector() -> None:
    # PROOF(1, D[0:8]) and PROOF(6, D[0:8]) from the CT test data
    assert [p.hex() for p in merkle.consistency_proof(LEAVES, 1)] == [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ]
    assert [p.hex() for p in merkle.consistency_proof(LEAVES, 6)] == [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ]


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13, 32, 33])
def test_every_proof_verifies_and_a_wrong_one_does_not(n: int) -> None:
    leaves = [hashlib.sha256(bytes([i])).digest() for i in range(n)]
    root = merkle.root(leaves)
    for i in range(n):
        proof = merkle.inclusion_proof(leaves, i)
        assert merkle.verify_inclusion(leaves[i], i, n, proof, root)
        assert not merkle.verify_inclusion(b"x" * 32, i, n, proof, root)
        if n > 1:
            assert not merkle.verify_inclusion(leaves[i], (i + 1) % n, n, proof, root)
    for m in range(1, n + 1):
        old = merkle.root(leaves[:m])
        proof = merkle.consistency_proof(leaves, m)
        assert merkle.verify_consistency(m, n, old, root, proof)
        changed = merkle.root([b"y" * 32] + leaves[1:m])
        assert not merkle.verify_consistency(m, n, changed, root, proof)
