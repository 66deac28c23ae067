"""Validators that confirm scan candidates, a whole batch at a time: one boolean per candidate.

Luhn plus issuer ranges and lengths for card numbers, mod-97 plus the country's length for
IBANs, the SSA rules for US social security numbers, digit counts for phone numbers, context
rules for IPv4 (no version strings, no netmasks), ``ipaddress`` for IPv6 candidates.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from ethics_audit.checks.privacy.entities.matching import (
    _digits,
    _groups,
    _ints,
    _lengths,
    _per_unique,
    char_matrix,
)
from ethics_audit.checks.privacy.entities.patterns import (
    _NOT_TLDS,
    _OCTET,
    _SSN_EXAMPLES,
    DATE,
    IBAN_LENGTHS,
)

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa


def luhn_valid(digits: pa.Array) -> np.ndarray:
    """Luhn checksum of each digit string (up to 19 digits), vectorised."""
    import numpy as np

    matrix, _ = char_matrix(digits, 19, right=True)
    d = np.where(matrix > 0, matrix.astype(np.int64) - 48, 0)
    doubled = d[:, -2::-2] * 2  # every second digit from the right, starting with the second
    d[:, -2::-2] = np.where(doubled > 9, doubled - 9, doubled)
    return d.sum(axis=1) % 10 == 0


def issuer_valid(digits: pa.Array) -> np.ndarray:
    """Does the number start with a card issuer's range and have that issuer's length?"""
    import numpy as np

    matrix, length = char_matrix(digits, 6)
    d = np.where(matrix > 0, matrix.astype(np.int64) - 48, 0)
    p6 = d @ (10 ** np.arange(5, -1, -1))
    p1, p2, p3, p4 = p6 // 100000, p6 // 10000, p6 // 1000, p6 // 100
    in_ = np.isin
    visa = (p1 == 4) & in_(length, (13, 16, 19))
    mastercard = (((p2 >= 51) & (p2 <= 55)) | ((p4 >= 2221) & (p4 <= 2720))) & (length == 16)
    amex = in_(p2, (34, 37)) & (length == 15)
    long_ = (length >= 16) & (length <= 19)
    discover = ((p4 == 6011) | ((p3 >= 644) & (p3 <= 649)) | (p2 == 65) | (p2 == 62)) & long_
    jcb = (p4 >= 3528) & (p4 <= 3589) & long_
    diners = (((p3 >= 300) & (p3 <= 305)) | in_(p2, (36, 38, 39)) | (p4 == 3095)) & (length >= 14) & (length <= 19)
    maestro = in_(p4, (5018, 5020, 5038, 5893, 6304, 6759, 6761, 6762, 6763)) & (length >= 13) & (length <= 19)
    mir = (p4 >= 2200) & (p4 <= 2204) & long_
    return visa | mastercard | amex | discover | jcb | diners | maestro | mir


def _card_digits_valid(digits: pa.Array) -> np.ndarray:
    import numpy as np

    length = _lengths(digits)
    ok = (length >= 13) & (length <= 19)
    return ok & luhn_valid(digits) & issuer_valid(digits) if len(digits) else np.zeros(0, bool)


def validate_card(matches: pa.Array) -> np.ndarray:
    """Luhn plus issuer range and length. A formatted candidate longer than 16 digits (a card run
    together with a neighbouring number) also passes when its first or last 16 digits do."""
    import pyarrow.compute as pc

    digits = _digits(matches)
    valid = _card_digits_valid(digits)
    formatted = pc.match_substring_regex(matches, r"[ \-]").to_numpy(zero_copy_only=False)
    long_ = formatted & (_lengths(digits) > 16) & ~valid
    if long_.any():
        idx = long_.nonzero()[0]
        sub = digits.take(idx)
        head = _card_digits_valid(pc.utf8_slice_codeunits(sub, 0, 16))
        tail = _card_digits_valid(pc.utf8_slice_codeunits(sub, -16))
        valid[idx] = head | tail
    return valid


def validate_iban(matches: pa.Array) -> np.ndarray:
    """Known country code, that country's length, and the ISO 13616 mod-97 check (remainder 1).

    A candidate that ran on into a following uppercase word is cut to the country's length.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    compact = pc.replace_substring(matches, pattern=" ", replacement="")
    countries = pa.array(list(IBAN_LENGTHS))
    expected = pc.take(
        pa.array(list(IBAN_LENGTHS.values()), pa.int64()),
        pc.index_in(pc.utf8_slice_codeunits(compact, 0, 2), countries),
    )
    expected = pc.fill_null(expected, 0).to_numpy(zero_copy_only=False)
    length = _lengths(compact)
    valid = (expected > 0) & (length >= expected)
    matrix, _ = char_matrix(compact, 34)
    n = len(matrix)
    # move the country code and check digits to the end, then read left to right
    position = (np.arange(34)[None, :] + 4) % np.maximum(expected, 1)[:, None]
    moved = np.take_along_axis(matrix, position, axis=1).astype(np.int64)
    letter = moved >= 65
    value = np.where(letter, moved - 55, moved - 48)
    remainder = np.zeros(n, dtype=np.int64)
    for j in range(34):
        active = j < expected
        stepped = np.where(letter[:, j], remainder * 100 + value[:, j], remainder * 10 + value[:, j]) % 97
        remainder = np.where(active, stepped, remainder)
    return valid & (remainder == 1)


def validate_ssn(matches: pa.Array) -> np.ndarray:
    """SSA rules: one separator style; area not 000, 666 or 900-999; group not 00; serial not
    0000; not a published example number; not one digit repeated."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    g = _groups(matches, r"^(?P<area>[0-9]{3})(?P<s1>[\- ])(?P<group>[0-9]{2})(?P<s2>[\- ])(?P<serial>[0-9]{4})$")
    same_sep = pc.fill_null(pc.equal(g["s1"], g["s2"]), False).to_numpy(zero_copy_only=False)
    area, group, serial = _ints(g["area"]), _ints(g["group"]), _ints(g["serial"])
    digits = _digits(matches)
    example = pc.is_in(digits, value_set=pa.array(_SSN_EXAMPLES)).to_numpy(zero_copy_only=False)
    repeated = pc.match_substring_regex(digits, r"^(?:0+|1+|2+|3+|4+|5+|6+|7+|8+|9+)$").to_numpy(zero_copy_only=False)
    ok = same_sep & (area > 0) & (area != 666) & (area < 900) & (group > 0) & (serial > 0)
    return np.asarray(ok & ~example & ~repeated, dtype=bool)


def validate_phone(matches: pa.Array) -> np.ndarray:
    """International numbers (leading +) have 8 to 15 digits (E.164); national formats 10 or 11."""
    import pyarrow.compute as pc

    length = _lengths(_digits(matches))
    international = pc.starts_with(matches, "+").to_numpy(zero_copy_only=False)
    return (international & (length >= 8) & (length <= 15)) | (~international & (length >= 10) & (length <= 11))


def validate_email(matches: pa.Array) -> np.ndarray:
    """A plausible local part (no leading, trailing or double dot) and a top-level domain that is
    not a file extension (``icon@2x.png``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    g = _groups(matches, r"^(?P<local>[^@]+)@.+\.(?P<tld>[A-Za-z]+)$")
    tld_ok = pc.invert(pc.is_in(pc.utf8_lower(g["tld"]), value_set=pa.array(_NOT_TLDS)))
    local_bad = pc.match_substring_regex(g["local"], r"^\.|\.$|\.\.")
    ok = pc.and_(pc.fill_null(tld_ok, False), pc.invert(pc.fill_null(local_bad, True)))
    return ok.to_numpy(zero_copy_only=False)


def validate_ipv4(matches: pa.Array) -> np.ndarray:
    """No version context (``version 10.0.0.1``), not part of a longer dotted number, and not
    a "this network", loopback or netmask address (first octet 0, 127 or 255)."""
    import pyarrow.compute as pc

    g = _groups(matches, rf"^(?P<pre>.*?)(?P<first>{_OCTET})\.(?:{_OCTET}\.){{2}}{_OCTET}(?P<post>.*)$")
    bare = pc.and_(pc.equal(g["pre"], ""), pc.equal(g["post"], ""))
    first = _ints(g["first"])
    return pc.fill_null(bare, False).to_numpy(zero_copy_only=False) & ~((first == 0) | (first == 127) | (first == 255))


def _ipv6_ok(text: str) -> bool:
    import ipaddress

    try:
        address = ipaddress.IPv6Address(text)
    except ValueError:
        return False
    groups = [g for g in text.split(":") if g]
    return len(groups) >= 3 and not (address.is_loopback or address.is_unspecified)


def validate_ipv6(matches: pa.Array) -> np.ndarray:
    """A syntactically valid IPv6 address with at least three written groups (so ``a::b`` in
    code is not one), neither loopback nor unspecified."""
    return _per_unique(matches, _ipv6_ok)


_DATE_RE = re.compile(DATE, re.ASCII)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def plausible_date(text: str) -> bool:
    """The first written date in ``text`` has day, month and year in range (day- or month-first)."""
    found = _DATE_RE.search(text)
    if not found:
        return False
    tokens = re.findall(r"[0-9]+|[A-Za-z]+", found.group(0))
    numbers = [int(t) for t in tokens if t.isdigit()]
    named_month = any(t[:3].lower() in _MONTHS for t in tokens if not t.isdigit())
    this_year = datetime.now(timezone.utc).year
    if named_month:
        day, year = numbers[0], numbers[-1]
        return 1 <= day <= 31 and 1900 <= year <= this_year
    a, b, c = numbers[:3]
    if a >= 1000:  # year-month-day
        return 1900 <= a <= this_year and 1 <= b <= 12 and 1 <= c <= 31
    year_ok = 1900 <= c <= this_year or c <= 99
    return year_ok and 1 <= min(a, b) <= 12 and max(a, b) <= 31


def validate_dob(matches: pa.Array) -> np.ndarray:
    """The date after the date-of-birth cue is a plausible calendar date."""
    return _per_unique(matches, plausible_date)
