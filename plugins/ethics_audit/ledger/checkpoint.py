"""Signed checkpoints: a tree head over the ledger, signed with Ed25519.

The signed text is five lines (docs/ledger.md)::

    ethics-audit ledger checkpoint v1
    tree_size 2600
    root_hash 5dc9...
    signed_at 2026-10-01T06:00:00.000000Z
    key_id 3f2a...

and the signature is Ed25519 over those UTF-8 bytes (newline-terminated), in base64. The key
id is the first 16 hex digits of SHA-256 of the raw 32-byte public key. The private key comes
from ``$ETHICS_AUDIT_LEDGER_KEY`` or the password of the Airflow connection
``ethics_audit_ledger_key`` and is never written anywhere; a checkpoint carries only the
public key, which a verifier should pin (``--public-key``) rather than trust.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ethics_audit.errors import AuditError
from ethics_audit.ledger import canonical

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

    from ethics_audit.store import Store

KEY_ENV = "ETHICS_AUDIT_LEDGER_KEY"
PUBLIC_KEY_ENV = "ETHICS_AUDIT_LEDGER_PUBLIC_KEY"
KEY_CONN_ID = "ethics_audit_ledger_key"
FORMAT = "ethics-audit-checkpoint/1"


@dataclass(frozen=True)
class Checkpoint:
    tree_size: int
    root_hash: str
    signed_at: str
    key_id: str | None = None
    public_key: str | None = None  # hex, raw 32 bytes
    signature: str | None = None  # base64; None: no signing key was configured
    note: str = ""

    def body(self) -> bytes:
        return (
            "ethics-audit ledger checkpoint v1\n"
            f"tree_size {self.tree_size}\n"
            f"root_hash {self.root_hash}\n"
            f"signed_at {self.signed_at}\n"
            f"key_id {self.key_id or '-'}\n"
        ).encode()

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "checkpoint") -> Checkpoint:
        if data.get("format") != FORMAT:
            raise AuditError(
                f"{where}: not an ethics-audit checkpoint (format {data.get('format')!r}, expected {FORMAT!r})"
            )
        try:
            return cls(
                tree_size=int(data["tree_size"]),
                root_hash=str(data["root_hash"]),
                signed_at=str(data["signed_at"]),
                key_id=data.get("key_id"),
                public_key=data.get("public_key"),
                signature=data.get("signature"),
                note=data.get("note", ""),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise AuditError(
                f"{where}: field {exc} is missing or malformed; use a file `ethics-audit checkpoint` wrote"
            ) from None


def key_id(public: Ed25519PublicKey) -> str:
    return canonical.sha256(_raw_public(public))[:16]


def _raw_public(public: Ed25519PublicKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _decode_key_text(text: str, what: str) -> bytes:
    """32 raw bytes from hex or base64 text."""
    text = text.strip()
    try:
        raw = bytes.fromhex(text) if len(text) == 64 else base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        raw = b""
    if len(raw) != 32:
        raise AuditError(
            f"{what} is not an Ed25519 key: give 32 bytes as 64 hex digits or base64, or a PEM "
            "(openssl genpkey -algorithm ed25519)"
        )
    return raw


def private_key_from_text(text: str, what: str = KEY_ENV) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if "-----BEGIN" in text:
        try:
            key = serialization.load_pem_private_key(text.encode(), password=None)
        except (ValueError, TypeError) as exc:
            raise AuditError(
                f"{what}: cannot read the PEM private key ({exc}); it must be unencrypted Ed25519"
            ) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise AuditError(f"{what}: the PEM key is not Ed25519; make one with openssl genpkey -algorithm ed25519")
        return key
    return Ed25519PrivateKey.from_private_bytes(_decode_key_text(text, what))


def public_key_from_text(text: str, what: str = PUBLIC_KEY_ENV) -> Ed25519PublicKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    path = Path(text)
    if len(text) < 400 and "\n" not in text and path.is_file():
        text = path.read_text()
    if "-----BEGIN" in text:
        try:
            key = serialization.load_pem_public_key(text.encode())
        except ValueError as exc:
            raise AuditError(f"{what}: cannot read the PEM public key ({exc})") from None
        if not isinstance(key, Ed25519PublicKey):
            raise AuditError(f"{what}: the PEM key is not an Ed25519 public key")
        return key
    return Ed25519PublicKey.from_public_bytes(_decode_key_text(text, what))


def signing_key() -> Ed25519PrivateKey | None:
    """The configured private key, or None (checkpoints are then unsigned and say so)."""
    text = os.environ.get(KEY_ENV)
    if text:
        return private_key_from_text(text, f"${KEY_ENV}")
    from ethics_audit.connections import get_connection

    fields = get_connection(KEY_CONN_ID)
    if fields is not None and fields.password:
        return private_key_from_text(fields.password, f"the password of the Airflow connection {KEY_CONN_ID!r}")
    return None


def public_hex(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return _raw_public(public).hex()


def sign(
    tree_size: int, root_hash: str, signed_at: datetime, key: Ed25519PrivateKey | None, note: str = ""
) -> Checkpoint:
    stamp = canonical.timestamp(signed_at) or ""
    if key is None:
        return Checkpoint(tree_size, root_hash, stamp, note=note)
    unsigned = Checkpoint(tree_size, root_hash, stamp, key_id(key.public_key()), public_hex(key), None, note)
    signature = base64.b64encode(key.sign(unsigned.body())).decode()
    return Checkpoint(**{**asdict(unsigned), "signature": signature})


def signature_problem(cp: Checkpoint, pinned: Ed25519PublicKey | None) -> str | None:
    """Why ``cp``'s signature cannot be trusted, or None when it verifies (under ``pinned`` if given)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if cp.signature is None or cp.public_key is None:
        return "the checkpoint is not signed (no signing key was configured when it was made)"
    try:
        public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(cp.public_key))
    except ValueError:
        return f"the checkpoint's public key {cp.public_key!r} is malformed"
    if pinned is not None and _raw_public(pinned) != _raw_public(public):
        return f"signed by key id {key_id(public)}, not by the pinned key (key id {key_id(pinned)})"
    if cp.key_id != key_id(public):
        return f"its key id {cp.key_id} is not the id of its public key ({key_id(public)})"
    try:
        public.verify(base64.b64decode(cp.signature), cp.body())
    except (InvalidSignature, ValueError, binascii.Error):
        return f"the Ed25519 signature does not verify under key id {cp.key_id}"
    return None


def load_file(path: Path) -> Checkpoint:
    """A checkpoint JSON file (``ethics-audit checkpoint --out``, or a witness copy)."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise AuditError(f"checkpoint file {path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise AuditError(
            f"checkpoint file {path} is not JSON ({exc}); give the file `ethics-audit checkpoint --out` wrote"
        ) from None
    return Checkpoint.from_dict(data, where=f"checkpoint file {path}")


def make_checkpoint(
    store: Store, *, key: Ed25519PrivateKey | None, note: str = "", now: datetime | None = None
) -> Checkpoint:
    """Sign the tree head over every entry so far and keep it (unsigned when ``key`` is None)."""
    from ethics_audit.ledger import merkle
    from ethics_audit.store.ledger import add_checkpoint
    from ethics_audit.store.ledger_read import entry_hashes

    with store.session() as s:
        hashes = entry_hashes(s)
        root = merkle.root([bytes.fromhex(h) for h in hashes]).hex()
        cp = sign(len(hashes), root, now or datetime.now(timezone.utc), key, note)
        add_checkpoint(s, cp)
    return cp
