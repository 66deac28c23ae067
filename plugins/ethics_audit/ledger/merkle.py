"""RFC 6962 Merkle trees over the ledger: tree heads, inclusion and consistency proofs.

Leaves are the entries' hashes (32 raw bytes each) in ledger order. ``leaf_hash`` is
SHA-256(0x00 || leaf), an interior node SHA-256(0x01 || left || right), the empty tree's head
SHA-256(""); a tree of n leaves splits at the largest power of two below n (RFC 6962 §2.1).
The proof verifiers follow RFC 9162 §2.1.3.2 and §2.1.4.2, so any Certificate Transparency
library can check them too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1)."""
    k = 1
    while k << 1 < n:
        k <<= 1
    return k


def root_of_hashes(hashes: Sequence[bytes]) -> bytes:
    """The tree head over already-hashed leaves, built level by level (no recursion)."""
    if not hashes:
        return hashlib.sha256(b"").digest()
    level = list(hashes)
    # pairing left to right and carrying an odd last node up gives RFC 6962's shape
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def root(leaves: Sequence[bytes]) -> bytes:
    return root_of_hashes([leaf_hash(x) for x in leaves])


class Tree:
    """One tree's leaf hashes with its subtree heads memoised, for many proofs over one tree."""

    def __init__(self, leaves: Sequence[bytes]):
        self.hashes = [leaf_hash(x) for x in leaves]
        self._memo: dict[tuple[int, int], bytes] = {}

    @property
    def size(self) -> int:
        return len(self.hashes)

    def subtree(self, lo: int, hi: int) -> bytes:
        if hi - lo == 1:
            return self.hashes[lo]
        head = self._memo.get((lo, hi))
        if head is None:
            k = _split(hi - lo)
            head = self._memo[(lo, hi)] = node_hash(self.subtree(lo, lo + k), self.subtree(lo + k, hi))
        return head

    def root(self) -> bytes:
        return root_of_hashes(self.hashes)

    def inclusion_proof(self, index: int) -> list[bytes]:
        """RFC 6962 PATH(index, D[0:n]): the audit path of leaf ``index``."""
        if not 0 <= index < self.size:
            raise ValueError(f"leaf {index} is not in a tree of {self.size}")
        return self._path(index, 0, self.size)

    def _path(self, m: int, lo: int, hi: int) -> list[bytes]:
        n = hi - lo
        if n == 1:
            return []
        k = _split(n)
        if m < k:
            return self._path(m, lo, lo + k) + [self.subtree(lo + k, hi)]
        return self._path(m - k, lo + k, hi) + [self.subtree(lo, lo + k)]

    def consistency_proof(self, old_size: int) -> list[bytes]:
        """RFC 6962 PROOF(m, D[0:n]): proves the first ``old_size`` leaves are unchanged."""
        if not 0 < old_size <= self.size:
            raise ValueError(f"cannot prove a tree of {old_size} against one of {self.size}")
        if old_size == self.size:
            return []
        return self._subproof(old_size, 0, self.size, True)

    def _subproof(self, m: int, lo: int, hi: int, complete: bool) -> list[bytes]:
        n = hi - lo
        if m == n:
            return [] if complete else [self.subtree(lo, hi)]
        k = _split(n)
        if m <= k:
            return self._subproof(m, lo, lo + k, complete) + [self.subtree(lo + k, hi)]
        return self._subproof(m - k, lo + k, hi, False) + [self.subtree(lo, lo + k)]


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    return Tree(leaves).inclusion_proof(index)


def consistency_proof(leaves: Sequence[bytes], old_size: int) -> list[bytes]:
    return Tree(leaves).consistency_proof(old_size)


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root_hash: bytes) -> bool:
    """RFC 9162 §2.1.3.2."""
    if index >= size:
        return False
    fn, sn = index, size - 1
    r = leaf_hash(leaf)
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root_hash


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 §2.1.4.2."""
    if old_size == 0 or old_size > new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node
        path = [old_root] + path
    if not path:
        return False
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
