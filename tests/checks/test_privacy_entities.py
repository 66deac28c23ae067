"""PII detectors: RE2 matches equal Python's re, validators are exact, near-misses stay negative, masks hide."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pytest
from bench import privacy_speed as reference

from ethics_audit.checks.privacy import entities as E

POSITIVES = {
    "email": ["jane.doe@example.com", "a@b.co", "first.last+tag@sub.example.org"],
    "phone": ["+44 7700 900123", "(555) 010-1234", "555-010-1234", "+1 415 555 0199", "06 12 34 56 78",
              "020 7946 0018", "07700 900123", "+49 (0)30 1234567"],
    "card": ["4242 4242 4242 4242", "4111-1111-1111-1111", "5555555555554444", "378282246310005",
             "6011111111111117", "3530111333300000", "2223003122003222"],
    "iban": ["GB82 WEST 1234 5698 7654 32", "DE89370400440532013000", "FR1420041010050500013M02606",
             "NL91ABNA0417164300", "BE68539007547034", "NO9386011117947"],
    "ssn": ["536-22-1234", "001 01 0001", "899-99-9999"],
    "ipv4": ["192.168.1.20", "8.8.8.8", "203.0.113.7"],
    "ipv6": ["2001:db8::1", "2001:0db8:85a3:0000:0000:8a2e:0370:7334", "fe80::1ff:fe23:4567"],
    "dob": ["DOB: 12/03/1990", "born on 14 July 1985", "date of birth 1979-02-28", "Birthday: March 3, 2001"],
}  # fmt: skip

# each must give no confirmed match for any entity
NEAR_MISSES = [
    "Release notes for v10.0.0.1 are out, upgrade soon",
    "version 10.0.0.1",
    "Order #402918374652 arrived two days early",
    "Tracking number 1234567812345678 shows it is in transit",  # 16 digits, fails Luhn
    "4242 4242 4242 4241",  # one digit off: fails Luhn
    "1234 5678 9012 3452",  # passes Luhn, no issuer starts with 1
    "Conference talk at 10:30 on 2026-07-14, slides to follow",
    "Our team shipped build 2026.07.3 tonight",
    "released 1.2.3.4.5 and netmask 255.255.255.0, localhost 127.0.0.1, any 0.0.0.0",
    "timestamp 2026-07-14T10:30:00Z epoch 1783929600 ms 1783929600123",
    "icon@2x.png and logo@3x.jpg",
    "x..y@example.com",
    "std::vector<int> and a::b and ::1 and 10:30:15",
    "mac 00:1a:2b:3c:4d:5e",
    "ssn-like 000-12-3456 666-12-3456 912-34-5678 123-00-4567 123-45-0000 078-05-1120 123-45-6789",
    "mixed separators 536-22 1234",
    "GB82WEST12345698765433 (bad check digits) and XX82WEST12345698765432 (no such country)",
    "p-07001-000123 u-000123 and order 07001-000001",
    "call me at 555 0100",
    "date of birth unknown, born in 1990, DOB 1990-13-45",
    "price 1,234,567.89 and 3.14159 and 2026/07/14",
]


def _confirmed(texts: list[str], entity: str) -> list[tuple[int, str]]:
    e = E.ENTITIES[entity]
    matches, parents = E.find_all(pa.array(texts), e.pattern)
    valid = e.validate(matches)
    return [(int(p), m) for p, m, ok in zip(parents, matches.to_pylist(), valid, strict=True) if ok]


@pytest.mark.parametrize("entity", sorted(E.ENTITIES))
def test_positives_are_found_whole(entity: str) -> None:
    texts = [f"see {value} here" for value in POSITIVES[entity]]
    found = _confirmed(texts, entity)
    assert [p for p, _ in found] == list(range(len(texts)))
    for (_, match), value in zip(found, POSITIVES[entity], strict=True):
        assert match == value


@pytest.mark.parametrize("entity", sorted(E.ENTITIES))
def test_near_misses_give_no_match(entity: str) -> None:
    assert _confirmed(NEAR_MISSES, entity) == []


def test_find_all_equals_python_finditer_on_random_text() -> None:
    rng = np.random.default_rng(3)
    pieces = np.array(
        ["a", " ", "-", ".", "@", ":", "+", "(", ")", "0", "1", "4", "7", "9", "ab", "x.y", "GB82", "WEST",
         "2001:db8", "::", "DOB ", "12/03/1990", "jane@ex.com", "4242 4242", "192.168.", "10.0", "\x1f", "é"]
    )  # fmt: skip
    texts = ["".join(rng.choice(pieces, rng.integers(0, 25))) for _ in range(3000)] + [None]
    array = pa.array(texts)
    for entity in E.ENTITIES.values():
        rx = re.compile(entity.pattern, re.ASCII)
        matches, parents = E.find_all(array, entity.pattern)
        ours = list(zip(parents.tolist(), matches.to_pylist(), strict=True))
        expected = [(i, m.group(0)) for i, t in enumerate(texts) if t for m in rx.finditer(t)]
        assert ours == expected, entity.name


def test_validators_agree_with_the_pure_python_reference() -> None:
    """Random digit strings and near-valid codes: vectorised validators = one-at-a-time Python."""
    rng = np.random.default_rng(5)
    cards = ["".join(map(str, rng.integers(0, 10, rng.integers(13, 20)))) for _ in range(4000)]
    cards += ["4" + "".join(map(str, rng.integers(0, 10, 15))) for _ in range(4000)]  # 1 in 10 pass Luhn
    cards += [" ".join(c[i : i + 4] for i in range(0, len(c), 4)) for c in cards[:500]]
    assert E.validate_card(pa.array(cards)).tolist() == [reference.card_ok(c) for c in cards]
    assert sum(reference.card_ok(c) for c in cards) > 300  # the sample does exercise valid numbers

    alphabet = list("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    ibans = []
    for country, length in list(E.IBAN_LENGTHS.items()) * 20:
        body = "".join(rng.choice(alphabet, length - 4))
        check = 98 - int("".join(str(int(c, 36)) for c in body + country + "00")) % 97
        ibans.append(f"{country}{check:02d}{body}")  # valid by construction
        ibans.append(f"{country}{(check + 1) % 100:02d}{body}")  # wrong check digits
    assert E.validate_iban(pa.array(ibans)).tolist() == [reference.iban_ok(i) for i in ibans]
    assert E.validate_iban(pa.array(ibans)).tolist() == [True, False] * (len(ibans) // 2)

    ssns = [f"{a:03d}{s}{g:02d}{s}{n:04d}" for a, g, n, s in zip(
        rng.integers(0, 1000, 3000), rng.integers(0, 100, 3000), rng.integers(0, 10000, 3000),
        rng.choice(["-", " "], 3000), strict=True)]  # fmt: skip
    ssns += ["000-12-3456", "666-12-3456", "900-12-3456", "123-00-4567", "123-45-0000", "111-11-1111"]
    assert E.validate_ssn(pa.array(ssns)).tolist() == [reference.ssn_ok(s) for s in ssns]


def test_luhn_by_hand() -> None:
    # 79927398713: the textbook example (sum 70); changing the check digit breaks it
    assert E.luhn_valid(pa.array(["79927398713", "79927398710", "4242424242424242", "1234567812345678"])).tolist() == [
        True,
        False,
        True,
        False,
    ]


def test_card_run_together_with_a_neighbouring_number_is_still_found() -> None:
    found = _confirmed(["ref 12 4242 4242 4242 4242", "4111 1111 1111 1111 99"], "card")
    assert [p for p, _ in found] == [0, 1]


def test_plausible_date() -> None:
    assert E.plausible_date("DOB 29/02/1988") and E.plausible_date("born on March 3, 2001")
    assert not E.plausible_date("DOB 32/13/1990") and not E.plausible_date("1990-13-45")
    assert not E.plausible_date("born 12/03/1850") and not E.plausible_date("no date here")


@pytest.mark.parametrize(
    ("mask", "raw", "masked"),
    [
        (E.mask_email, "jane.doe@example.com", "j***@e***.com"),
        (E.mask_card, "4242-4242-4242-4242", "**** **** **** 4242"),
        (E.mask_phone, "+44 7700 900123", "+** **** ****23"),
        (E.mask_iban, "GB82 WEST 1234 5698 7654 32", "GB******************32"),
        (E.mask_all_digits, "536-22-1234", "***-**-****"),
        (E.mask_ipv4, "192.168.1.20", "192.*.*.*"),
        (E.mask_ipv6, "2001:db8::1", "2001:****:****"),
        (E.mask_dob, "born on 14 July 1985", "born on ** *** ****"),
    ],
)
def test_masks(mask, raw: str, masked: str) -> None:
    assert mask(raw) == masked
