"""The PII part: exact shares and counts per column, every way a column can be stored, names, no raw values."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ethics_audit.checks.privacy import pii
from ethics_audit.errors import DataError
from ethics_audit.evaluate import judge
from ethics_audit.results import Severity
from helpers import make_data, make_spec

LEAKS = [
    "mail jane.doe@example.com or j.d@example.org",  # two emails, one row
    "contact sam@example.net",
    "reach alex@example.com",
    "call +44 7700 900123",
    "call (555) 010-4242",
    "paid with 4242 4242 4242 4242",
    "iban GB82 WEST 1234 5698 7654 32",
    "ssn 536-22-1234",
    "from 203.0.113.7 and 2001:db8::7:1",
    "DOB: 12/03/1990",
]
PLAIN = ["hello world", "Order #402918374652 arrived", "release v10.0.0.1", "Tracking number 1234567812345678"]
RAW = ["jane.doe@example.com", "j.d@example.org", "sam@example.net", "alex@example.com", "7700 900123",
       "010-4242", "4242 4242 4242 4242", "WEST 1234 5698", "536-22-1234", "203.0.113.7", "2001:db8::7:1",
       "12/03/1990"]  # fmt: skip


def _spec(**privacy):
    return make_spec({"columns": {"text": ["note"]}, "checks": {"privacy": privacy}})


def _frame(note: list[str] | pd.Series, **extra) -> pd.DataFrame:
    n = len(note)
    return pd.DataFrame(
        {
            "user_id": np.arange(n),
            "ts": pd.Timestamp("2026-07-06", tz="UTC") + pd.to_timedelta(np.arange(n), unit="s"),
            "note": note,
            **extra,
        }
    )


def _by(results, metric: str, column: str):
    return next(r for r in results if r.metric == metric and r.slice == {"column": column})


def _note(rows: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    note = list(rng.choice(PLAIN, rows))
    for i, leak in enumerate(LEAKS):
        note[i * 7] = leak
    return note


def test_exact_shares_counts_and_severities() -> None:
    rows = 1000
    results = pii.run(_spec().checks.privacy, make_data(_spec(), _frame(_note(rows))))
    expected = {
        "email_share": (3 / rows, Severity.CRITICAL),  # three rows (one with two emails) > 0.1%
        "phone_share": (2 / rows, Severity.CRITICAL),
        "card_count": (1, Severity.CRITICAL),
        "iban_count": (1, Severity.CRITICAL),
        "ssn_count": (1, Severity.CRITICAL),
        "ip_share": (1 / rows, Severity.WARN),  # IPv4 and IPv6 in one row; warn above 0, critical above 1%
        "dob_share": (1 / rows, Severity.WARN),
        "pii_share": (10 / rows, Severity.OK),
    }
    for metric, (value, severity) in expected.items():
        result = _by(results, metric, "note")
        assert result.value == pytest.approx(value), metric
        assert result.n == rows
        assert judge(result).severity is severity, metric
    assert _by(results, "pii_share", "note").details["rows_by_type"] == {
        "card": 1, "dob": 1, "email": 3, "iban": 1, "ipv4": 1, "ipv6": 1, "phone": 2, "ssn": 1,
    }  # fmt: skip
    assert _by(results, "ip_share", "note").details["entity_types"] == ["ipv4", "ipv6"]
    assert _by(results, "email_share", "note").details["examples"] == [
        "s***@e***.net",
        "j***@e***.com",
        "j***@e***.org",
    ]
    assert _by(results, "card_count", "note").details["examples"] == ["**** **** **** 4242"]


def test_no_raw_value_in_any_result() -> None:
    results = pii.run(_spec().checks.privacy, make_data(_spec(), _frame(_note(200))))
    text = json.dumps([r.to_dict() for r in results])
    for raw in RAW:
        assert raw not in text


@pytest.mark.parametrize(
    "storage",
    ["object_low_cardinality", "object_unique", "category", "string_python", "string_pyarrow", "mixed_objects"],
)
def test_every_storage_gives_the_same_numbers(storage: str) -> None:
    rows = 600
    note = pd.Series(_note(rows), dtype=object)
    if storage == "object_unique":
        note = note + pd.Series([f" #{i}" for i in range(rows)])
    elif storage == "category":
        note = note.astype("category")
    elif storage == "string_python":
        note = note.astype("string[python]")
    elif storage == "string_pyarrow":
        note = note.astype("string[pyarrow]")
    elif storage == "mixed_objects":
        note = note.where(np.arange(rows) % 5 != 4, 12345).where(np.arange(rows) % 5 != 3, None)
    results = pii.run(_spec().checks.privacy, make_data(_spec(), _frame(note)))
    counts = _by(results, "pii_share", "note").details["rows_by_type"]
    if storage == "mixed_objects":  # leak rows 14, 28, 49 and 63 became a number or None
        assert counts == {"card": 1, "email": 2, "iban": 1, "ipv4": 1, "ipv6": 1, "phone": 1}
    else:
        assert counts == {"card": 1, "dob": 1, "email": 3, "iban": 1, "ipv4": 1, "ipv6": 1, "phone": 2, "ssn": 1}
        assert _by(results, "email_share", "note").value == pytest.approx(3 / rows)


def test_every_string_column_is_scanned_and_names_are_judged_separately() -> None:
    rows = 50
    frame = _frame(["fine"] * rows)
    frame["comment"] = ["fine"] * (rows - 1) + ["write to me@example.com"]
    frame["email"] = ["x"] * rows
    frame["user_email"] = ["x"] * rows
    frame["first_name"] = ["x"] * rows
    frame["campaign_name"] = ["x"] * rows
    frame["phone_type"] = ["x"] * rows
    frame["is_mobile"] = [True] * rows
    frame["ip_address"] = ["x"] * rows
    frame["home_address"] = ["x"] * rows
    frame["dateOfBirth"] = ["x"] * rows
    frame["amount"] = np.arange(rows)
    results = pii.run(_spec().checks.privacy, make_data(_spec(), frame))
    assert _by(results, "email_share", "comment").value == pytest.approx(1 / rows)
    assert {r.slice["column"] for r in results if r.metric == "pii_share"} == {
        "note", "comment", "email", "user_email", "first_name", "campaign_name", "phone_type", "ip_address",
        "home_address", "dateOfBirth",
    }  # fmt: skip
    names = next(r for r in results if r.metric == "identifier_column_names")
    assert names.details["columns"] == {
        "email": "email", "user_email": "email", "first_name": "name", "ip_address": "ip",
        "home_address": "address", "dateOfBirth": "dob",
    }  # fmt: skip
    assert names.value == 6 and judge(names).severity is Severity.WARN


def test_role_columns_are_not_flagged_by_name() -> None:
    spec = make_spec({"columns": {"entity_id": "email", "prediction_id": "phone"}, "checks": {"privacy": {}}})
    frame = pd.DataFrame({"email": ["u1", "u2"], "phone": ["p1", "p2"], "ts": pd.Timestamp("2026-07-06", tz="UTC")})
    names = next(
        r for r in pii.run(spec.checks.privacy, make_data(spec, frame)) if r.metric == "identifier_column_names"
    )
    assert names.value == 0 and judge(names).severity is Severity.OK


def test_version_columns_do_not_count_as_ip_addresses() -> None:
    frame = _frame(["server 10.0.0.1"] * 4, app_version=["10.0.0.1"] * 4, build=["10.1.2.3"] * 4)
    results = pii.run(_spec().checks.privacy, make_data(_spec(), frame))
    assert _by(results, "ip_share", "app_version").value == 0
    assert _by(results, "ip_share", "build").value == 0
    assert _by(results, "ip_share", "note").value == 1.0  # the same value in free text is an address


def test_near_misses_give_no_finding() -> None:
    from test_privacy_entities import NEAR_MISSES

    frame = _frame(NEAR_MISSES * 20, release=["10.0.0.1"] * len(NEAR_MISSES) * 20)
    results = pii.run(_spec().checks.privacy, make_data(_spec(), frame))
    assert [(r.metric, r.slice, r.value) for r in results if r.value] == []
    assert all(judge(r).severity is Severity.OK for r in results)


def test_dates_of_birth_in_columns_named_like_one() -> None:
    rows = 10
    frame = _frame(
        ["x"] * rows,
        birth_date=["1990-03-12", "12/03/1990", "3 March 1990", "not given", None, "", "1990-13-45", "x", "y", "z"],
        dob=pd.to_datetime(["1980-01-01"] * 4 + [None] * 6),
    )
    results = pii.run(_spec().checks.privacy, make_data(_spec(), frame))
    assert _by(results, "dob_share", "birth_date").value == pytest.approx(3 / rows)
    assert _by(results, "dob_share", "dob").value == pytest.approx(4 / rows)
    assert _by(results, "dob_share", "birth_date").details["examples"] == ["****-**-**", "**/**/****", "* *** ****"]


def test_explicit_columns_exclusions_and_entities() -> None:
    frame = _frame(["me@example.com"] * 4, card_no=[4242424242424242, 1, 2, 3], other=["me@example.com"] * 4)
    spec = _spec(pii={"columns": ["card_no"], "exclude_columns": ["note"], "entities": ["card", "email"]})
    results = pii.run(spec.checks.privacy, make_data(spec, frame))
    assert {r.slice.get("column") for r in results if r.slice} == {"card_no"}  # note excluded, other not listed
    assert _by(results, "card_count", "card_no").value == 1
    assert {r.metric for r in results} == {"identifier_column_names", "pii_share", "card_count", "email_share"}


def test_unknown_columns_are_errors_naming_the_field() -> None:
    spec = _spec(pii={"columns": ["nope"]})
    with pytest.raises(DataError, match=r"checks.privacy.pii.columns: 'nope' is not a column"):
        pii.run(spec.checks.privacy, make_data(spec, _frame(["x"])))
    spec = make_spec({"columns": {"text": ["bio"]}, "checks": {"privacy": {}}})
    with pytest.raises(DataError, match=r"columns.text: 'bio' is not a column .* fix columns.text"):
        pii.run(spec.checks.privacy, make_data(spec, _frame(["x"])))


def test_disabled_part_returns_nothing() -> None:
    spec = _spec(pii={"enabled": False})
    assert pii.run(spec.checks.privacy, make_data(spec, _frame(["me@example.com"]))) == []


def test_normalise_name() -> None:
    assert [pii.normalise_name(n) for n in ("userEmail", "User-Email", "user email", "IPAddress")] == [
        "user_email",
        "user_email",
        "user_email",
        "ipaddress",
    ]
