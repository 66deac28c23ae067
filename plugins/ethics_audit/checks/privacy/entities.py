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
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

# --------------------------------------------------------------------------- scan patterns

EMAIL = r"[A-Za-z0-9._%+\-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,24}\b"
PHONE = (
    # international: +CC then 7..15 more digits, optionally grouped by spaces, dots, dashes, (0)
    r"\+[1-9](?:[ .\-]?\(?[0-9]\)?){6,16}"
    # North American with explicit formatting: (555) 010-1234, 555-010-1234, 1-555-010-1234
    r"|(?:\b1[ .\-]?)?(?:\([2-9][0-9]{2}\)[ .\-]?|\b[2-9][0-9]{2}[.\-])[0-9]{3}[.\-][0-9]{4}\b"
    # UK national: 07700 900123, 020 7946 0018
    r"|\b0(?:7[0-9]{3} ?[0-9]{6}|[1-9][0-9]{1,3} [0-9]{3,4} ?[0-9]{3,4})\b"
    # French national: 06 12 34 56 78
    r"|\b0[1-9](?: [0-9]{2}){4}\b"
)
CARD = r"\b(?:[0-9][ \-]?){12,18}[0-9]\b"
IBAN = r"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}\b"
SSN = r"\b[0-9]{3}[\- ][0-9]{2}[\- ][0-9]{4}\b"
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
# the optional context before and after lets the validator reject version strings
# ("version 10.0.0.1", "1.2.3.4.5") without lookbehind, which RE2 does not have
IPV4 = (
    r"(?:[0-9]\.|\b(?i:v|ver|version|release|rel|build|fw|firmware)[ .:]*)?"
    rf"\b(?:{_OCTET}\.){{3}}{_OCTET}\b(?:\.[0-9])?"
)
_H = r"[0-9A-Fa-f]{1,4}"
IPV6 = rf"\b(?:{_H}:){{7}}{_H}\b|(?:\b{_H}(?::{_H}){{0,6}})?::(?:{_H}(?::{_H}){{0,6}}\b)?"
_MONTH = r"(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[A-Za-z]*\.?"
DATE = (
    r"(?:[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"|[0-9]{1,2}[/.\-][0-9]{1,2}[/.\-](?:[0-9]{4}|[0-9]{2})"
    rf"|[0-9]{{1,2}}(?i:st|nd|rd|th)? {_MONTH},? [0-9]{{4}}"
    rf"|{_MONTH} [0-9]{{1,2}}(?i:st|nd|rd|th)?,? [0-9]{{4}})"
)
DOB = (
    r"(?:\b(?i:dob|date of birth|birth ?date|birthday|born(?: on)?)\b|\b(?i:d\.o\.b)\.?)"
    rf"[ \t:,\-]*{DATE}\b"
)
DATE_VALUE = (
    rf"^\s*{DATE}(?:[ T][0-9]{{1,2}}:[0-9]{{2}}(?::[0-9]{{2}}(?:\.[0-9]+)?)?(?:Z|[+\-][0-9]{{2}}:?[0-9]{{2}})?)?\s*$"
)

# file extensions that look like top-level domains in "icon@2x.png"
_NOT_TLDS = ("png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "tif", "tiff", "css", "js", "pdf", "txt")
# country code -> IBAN length (SWIFT IBAN registry)
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27,
    "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25,
    "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18,
    "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33,
    "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip
# SSNs published as examples or never issued; the SSA rules reject the rest
_SSN_EXAMPLES = ("078051120", "219099999", "123456789")


# --------------------------------------------------------------------------- finding every match


def find_all(values: pa.Array, pattern: str) -> tuple[pa.Array, np.ndarray]:
    """Every non-overlapping match of ``pattern`` in each value (like ``re.finditer``), flattened.

    Returns the matches, in value order, and for each the index of the value it came from.
    Values with one match (nearly all) are extracted directly. RE2 extracts only the first match
    of a value, so for the others one global replace keeps the matches, separated by a control
    character that no scan pattern matches, and drops the text between them.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    counts = pc.fill_null(pc.count_substring_regex(values, pattern), 0).to_numpy(zero_copy_only=False)
    single, several = np.flatnonzero(counts == 1), np.flatnonzero(counts > 1)
    matches = [pc.extract_regex(values.take(single), pattern=f"(?P<m>{pattern})").field("m")]
    parents = [single]
    if len(several):
        marked = pc.replace_substring_regex(
            values.take(several), pattern=f"(?s:.*?)({pattern})|(?s:.+)", replacement="\\1\x1f"
        )
        parts = pc.split_pattern(marked, pattern="\x1f")
        flat = pc.list_flatten(parts)
        keep = pc.greater(pc.utf8_length(flat), 0).to_numpy(zero_copy_only=False).astype(bool)
        matches.append(flat.filter(keep))
        parents.append(several[pc.list_parent_indices(parts).to_numpy()[keep]])
    parent = np.concatenate(parents)
    order = np.argsort(parent, kind="stable")
    flat_matches = pa.concat_arrays([m.cast(pa.large_string()) for m in matches])
    return flat_matches.take(order), parent[order]


def char_matrix(values: pa.Array, width: int, *, right: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The bytes of each (ASCII) value in a row of a ``(n, width)`` uint8 matrix, zero-padded.

    ``right`` aligns the last ``width`` bytes to the right edge (for checksums read from the
    right); otherwise the first ``width`` bytes start at the left edge. Also returns the lengths.
    """
    import numpy as np
    import pyarrow as pa

    values = values.cast(pa.large_string())
    n = len(values)
    buffers = values.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64)[values.offset : values.offset + n + 1]
    data = np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None else np.zeros(0, np.uint8)
    lengths = np.diff(offsets)
    kept = np.minimum(lengths, width)
    matrix = np.zeros((n, width), dtype=np.uint8)
    if kept.sum():
        rows = np.repeat(np.arange(n), kept)
        position = np.arange(kept.sum()) - np.repeat(np.cumsum(kept) - kept, kept)
        first = offsets[:-1] + (lengths - kept if right else 0)
        source = np.repeat(first, kept) + position
        column = position + (np.repeat(width - kept, kept) if right else 0)
        matrix[rows, column] = data[source]
    return matrix, lengths


def _digits(matches: pa.Array) -> pa.Array:
    import pyarrow.compute as pc

    return pc.replace_substring_regex(matches, pattern=r"[^0-9]", replacement="")


def _lengths(values: pa.Array) -> np.ndarray:
    import pyarrow.compute as pc

    return pc.utf8_length(values).to_numpy(zero_copy_only=False)


def _groups(matches: pa.Array, anchored: str) -> dict[str, pa.Array]:
    """Named groups of an anchored pattern over every match (null where it does not match)."""
    import pyarrow.compute as pc

    struct = pc.extract_regex(matches, pattern=anchored)
    return {struct.type.field(i).name: struct.field(i) for i in range(struct.type.num_fields)}


def _ints(values: pa.Array) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.cast(pc.fill_null(values, "-1"), pa.int64()).to_numpy(zero_copy_only=False)


def _per_unique(matches: pa.Array, valid: Callable[[str], bool]) -> np.ndarray:
    """Run a Python validator once per distinct candidate (for rare, hard-to-vectorise entities)."""
    import numpy as np
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(matches)
    verdict = np.array([valid(v) for v in encoded.dictionary.to_pylist()], dtype=bool)
    return verdict[encoded.indices.to_numpy(zero_copy_only=False)] if len(verdict) else np.zeros(len(matches), bool)


# --------------------------------------------------------------------------- validators


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


# --------------------------------------------------------------------------- masks


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


# --------------------------------------------------------------------------- the entity table


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
