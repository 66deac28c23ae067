"""Masks: a confirmed match made safe to show (``j***@e***.com``, ``**** **** **** 4242``)."""

from __future__ import annotations

import re

from ethics_audit.checks.privacy.entities.patterns import _OCTET


def _mask_digits(text: str, keep_last: int) -> str:
    total = sum(c.isdigit() for c in text)
    out, seen = [], 0
    for c in text:
        if c.isdigit():
            seen += 1
            out.append(c if seen > total - keep_last else "*")
        else:
            out.append(c)
    return "".join(out)


def mask_email(text: str) -> str:
    local, _, domain = text.partition("@")
    host, _, tld = domain.rpartition(".")
    return f"{local[:1]}***@{host[:1]}***.{tld}"


def mask_card(text: str) -> str:
    digits = re.sub(r"[^0-9]", "", text)
    return "**** **** **** " + digits[-4:]


def mask_iban(text: str) -> str:
    compact = text.replace(" ", "")
    return compact[:2] + "*" * (len(compact) - 4) + compact[-2:]


def mask_ipv4(text: str) -> str:
    match = re.search(rf"{_OCTET}(?:\.{_OCTET}){{3}}", text)
    first = match.group(0).split(".")[0] if match else "*"
    return f"{first}.*.*.*"


def mask_ipv6(text: str) -> str:
    return text.split(":")[0] + ":****:****"


def mask_phone(text: str) -> str:
    return _mask_digits(text, keep_last=2)


def mask_all_digits(text: str) -> str:
    return _mask_digits(text, keep_last=0)


def mask_dob(text: str) -> str:
    """Keep the cue words, hide every digit and month name."""
    return re.sub(r"(?i)\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*", "***", mask_all_digits(text))
