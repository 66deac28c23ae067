"""Scan patterns of the PII entities, and the tables their validators read.

Every pattern uses only syntax that RE2 and Python's ``re`` (with ``re.ASCII``) read the same
way and contains no capturing groups, so ``find_all`` can wrap them and the benchmark's naive
baseline can run the very same expressions.
"""

from __future__ import annotations

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
