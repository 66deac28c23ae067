"""PII entity detectors: RE2 patterns that find candidates, vectorised validators that confirm them, masks.

Each entity has a *scan* pattern that finds candidate substrings and a validator that takes
every candidate of a batch as one Arrow array and returns a boolean mask: Luhn plus issuer
ranges and lengths for card numbers, mod-97 plus the country's length for IBANs, the SSA rules
for US social security numbers, digit counts for phone numbers, context rules for IPv4 (no
version strings, no netmasks), ``ipaddress`` for IPv6 candidates. Only confirmed matches count.
Scan patterns use only syntax that RE2 and Python's ``re`` (with ``re.ASCII``) read the same
way and contain no capturing groups, so ``find_all`` can wrap them and the benchmark's naive
baseline can run the very same expressions. ``mask`` turns a confirmed match into something
safe to show (``j***@e***.com``, ``**** **** **** 4242``); raw matches never leave the caller.

The package: ``patterns`` (scan patterns), ``matching`` (``find_all`` and array helpers),
``validators``, ``masks``; the entity table is here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ethics_audit.checks.privacy.entities.masks import (
    mask_all_digits,
    mask_card,
    mask_dob,
    mask_email,
    mask_iban,
    mask_ipv4,
    mask_ipv6,
    mask_phone,
)
from ethics_audit.checks.privacy.entities.matching import (
    char_matrix,
    find_all,
)
from ethics_audit.checks.privacy.entities.patterns import (
    CARD,
    DATE,
    DATE_VALUE,
    DOB,
    EMAIL,
    IBAN,
    IBAN_LENGTHS,
    IPV4,
    IPV6,
    PHONE,
    SSN,
)
from ethics_audit.checks.privacy.entities.validators import (
    issuer_valid,
    luhn_valid,
    plausible_date,
    validate_card,
    validate_dob,
    validate_email,
    validate_iban,
    validate_ipv4,
    validate_ipv6,
    validate_phone,
    validate_ssn,
)

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa


@dataclass(frozen=True)
class Entity:
    name: str
    pattern: str
    validate: Callable[[pa.Array], np.ndarray]
    mask: Callable[[str], str]
    metric: str  # the judged metric the entity counts towards


ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in (
        Entity("email", EMAIL, validate_email, mask_email, "email_share"),
        Entity("phone", PHONE, validate_phone, mask_phone, "phone_share"),
        Entity("card", CARD, validate_card, mask_card, "card_count"),
        Entity("iban", IBAN, validate_iban, mask_iban, "iban_count"),
        Entity("ssn", SSN, validate_ssn, mask_all_digits, "ssn_count"),
        Entity("ipv4", IPV4, validate_ipv4, mask_ipv4, "ip_share"),
        Entity("ipv6", IPV6, validate_ipv6, mask_ipv6, "ip_share"),
        Entity("dob", DOB, validate_dob, mask_dob, "dob_share"),
    )
}

__all__ = [
    "CARD",
    "DATE",
    "DATE_VALUE",
    "DOB",
    "EMAIL",
    "ENTITIES",
    "IBAN",
    "IBAN_LENGTHS",
    "IPV4",
    "IPV6",
    "PHONE",
    "SSN",
    "Entity",
    "char_matrix",
    "find_all",
    "issuer_valid",
    "luhn_valid",
    "mask_all_digits",
    "mask_card",
    "mask_dob",
    "mask_email",
    "mask_iban",
    "mask_ipv4",
    "mask_ipv6",
    "mask_phone",
    "plausible_date",
    "validate_card",
    "validate_dob",
    "validate_email",
    "validate_iban",
    "validate_ipv4",
    "validate_ipv6",
    "validate_phone",
    "validate_ssn",
]
