"""The results ledger: hash-chained entries, signed RFC 6962 checkpoints, and their verifier.

Every committed window, manual incident transition, privacy-budget spend and report
publication appends one entry in the transaction that commits it (``store.ledger``); entries
are canonical JSON (``canonical``) chained by SHA-256; checkpoints are Merkle tree heads over
the entries signed with Ed25519 (``checkpoint``, ``merkle``; ``checkpoint.make_checkpoint`` keeps
one); ``verify`` recomputes everything from the stored rows. The format is documented in docs/ledger.md for independent verifiers.
"""
