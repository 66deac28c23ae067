"""Issue 14, part 2: k-anonymity and l-diversity judged against the configured k and l; identifier
column names from an extensible, multi-language list; personal names found by content."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from ethics_audit.checks.privacy import pii, reidentification
from ethics_audit.checks.privacy.identifiers import identifier_kind, identifier_names, is_name_shaped, mask_name
from ethics_audit.errors import DataError
from ethics_audit.evaluate import judge
from ethics_audit.results import Severity
from helpers import make_data, make_spec


def _reid_spec(**reid):
    return make_spec(
        {
            "columns": {"label": "label", "sensitive": ["race"], "quasi_identifiers": ["sex", "age_band"]},
            "checks": {"privacy": {"reidentification": reid}},
        }
    )


def _people(sizes: dict[tuple[str, str], int], race=lambda i: "a" if i % 2 else "b") -> pd.DataFrame:
    rows = []
    for (sex, age), n in sizes.items():
        for _ in range(n):
            rows.append({"user_id": f"u{len(rows)}", "sex": sex, "age_band": age, "race": race(len(rows))})
    frame = pd.DataFrame(rows)
    frame["ts"] = pd.Timestamp("2026-07-06", tz="UTC")
    frame["label"] = [i % 2 for i in range(len(frame))]
    return frame


def _by(results, metric, **slice_):
    return next(r for r in results if r.metric == metric and r.slice == slice_)


def test_k_below_the_configured_k_is_a_breach():
    frame = _people({("f", "20-29"): 10, ("m", "20-29"): 10, ("m", "70+"): 1})  # someone is alone: k = 1
    spec = _reid_spec(k=5)
    k = _by(reidentification.run(spec.checks.privacy, make_data(spec, frame)), "k_anonymity")
    finding = judge(k)
    assert k.value == 1 and finding.severity is Severity.WARN
    assert "below 5" in finding.reason and k.details["k"] == 5


def test_k_at_or_above_the_configured_k_is_ok_and_spec_bounds_win():
    frame = _people({("f", "20-29"): 10, ("m", "20-29"): 6})
    spec = _reid_spec(k=5)
    assert judge(_by(reidentification.run(spec.checks.privacy, make_data(spec, frame)), "k_anonymity")).severity is (
        Severity.OK
    )
    strict = _reid_spec(k=5, thresholds={"k_anonymity": {"warn": 8, "critical": 7}})
    k = _by(reidentification.run(strict.checks.privacy, make_data(strict, frame)), "k_anonymity")
    assert judge(k).severity is Severity.CRITICAL  # 6 < 7: the spec's own bounds judge it


def test_l_diversity_is_judged_against_l():
    # in (m, 20-29) everybody has race "b": one distinct value
    frame = _people({("f", "20-29"): 10, ("m", "20-29"): 10}, race=lambda i: "b" if i >= 10 else "ab"[i % 2])
    spec = _reid_spec(l=2)
    race = _by(reidentification.run(spec.checks.privacy, make_data(spec, frame)), "l_diversity", attribute="race")
    assert race.value == 1 and judge(race).severity is Severity.WARN
    three = _reid_spec(l=3)
    frame = _people({("f", "20-29"): 10, ("m", "20-29"): 10})
    race = _by(reidentification.run(three.checks.privacy, make_data(three, frame)), "l_diversity", attribute="race")
    assert race.value == 2 and judge(race).severity is Severity.WARN and race.details["l"] == 3
    off = _reid_spec()  # no l: reported, not judged
    race = _by(reidentification.run(off.checks.privacy, make_data(off, frame)), "l_diversity", attribute="race")
    assert judge(race).severity is Severity.OK and race.threshold.warn is None


@pytest.mark.parametrize(
    ("column", "kind"),
    [
        ("first", "name"), ("last", "name"), ("surname", "name"), ("date_of_birth", "dob"), ("name", "name"),
        ("dob", "dob"), ("firstName", "name"), ("LAST_NAME", "name"), ("client_surname", "name"),
        ("Vorname", "name"), ("Nachname", "name"), ("prénom", "name"), ("apellidos", "name"), ("cognome", "name"),
        ("Geburtsdatum", "dob"), ("date_de_naissance", "dob"), ("fecha_de_nacimiento", "dob"),
        ("home_address", "address"), ("Straße", "address"), ("direccion", "address"), ("Telefonnummer", "phone"),
        ("telefono", "phone"), ("mobile_number", "phone"), ("passport_no", "national_id"), ("codice_fiscale",
        "national_id"), ("personnummer", "national_id"), ("email_address", "email"), ("ip_address", "ip"),
    ],
)  # fmt: skip
def test_identifier_names_in_several_languages(column, kind):
    assert identifier_kind(column) == kind


@pytest.mark.parametrize("column", ["campaign_name", "phone_type", "is_mobile", "last_seen", "first_login", "region"])
def test_ordinary_names_are_not_identifiers(column):
    assert identifier_kind(column) is None


def test_the_list_is_extended_from_the_spec():
    names = identifier_names({"name": ["imie_ojca", "*_vorname"], "customer_number": ["kundennummer"]})
    assert identifier_kind("imie_ojca", names) == "name"
    assert identifier_kind("Kunde-Vorname", names) == "name"
    assert identifier_kind("Kundennummer", names) == "customer_number"
    assert identifier_kind("imie_ojca") is None  # not in the built-in list


def _pii_spec(**pii_spec):
    return make_spec({"columns": {"text": []}, "checks": {"privacy": {"pii": pii_spec}}})


COMPAS_LIKE = pd.DataFrame(
    {
        "user_id": [f"u{i}" for i in range(6)],
        "ts": pd.Timestamp("2026-07-06", tz="UTC"),
        "name": ["miguel hernandez", "Kevon Dixon", "ed philo", "marsha miles", "Edward Riddle", "steven stewart"],
        "first": ["miguel", "kevon", "ed", "marsha", "edward", "steven"],
        "last": ["hernandez", "dixon", "philo", "miles", "riddle", "stewart"],
        "surname": ["Hernandez", "Dixon", "Philo", "Miles", "Riddle", "O'Neil"],
        "date_of_birth": ["1947-04-18", "1982-01-22", "1991-05-14", "1971-08-22", "1974-07-23", "1973-02-25"],
        "charge": ["Aggravated Assault", "Battery", "Theft", "DUI", "Battery", "Theft"],
        "case_id": ["13011352CF10A", "13001275CF10A", "13005330CF10A", "13000570CF10A", "13009779CF10A", "13000570"],
    }
)


def test_first_last_surname_and_date_of_birth_columns_are_found():
    spec = _pii_spec()
    results = pii.run(spec.checks.privacy, make_data(spec, COMPAS_LIKE))
    names = next(r for r in results if r.metric == "identifier_column_names")
    assert names.details["columns"] == {
        "name": "name", "first": "name", "last": "name", "surname": "name", "date_of_birth": "dob",
    }  # fmt: skip
    for column in ("name", "first", "last", "surname"):
        share = _by(results, "name_share", column=column)
        assert share.value == 1.0 and judge(share).severity is Severity.CRITICAL, column
        assert share.details["why_read"] == "its name"
    assert _by(results, "dob_share", column="date_of_birth").value == 1.0
    # charges are not read for names: the column is neither marked nor named so
    assert not [r for r in results if r.metric == "name_share" and r.slice["column"] == "charge"]
    # masked examples only: first letters, never a name
    shown = json.dumps([r.details for r in results])
    for raw in ("miguel", "hernandez", "Dixon", "O'Neil", "1947-04-18"):
        assert raw.lower() not in shown.lower()
    assert "m***** h********" in _by(results, "name_share", column="name").details["examples"]


def test_a_column_marked_as_holding_names_is_read():
    frame = COMPAS_LIKE.rename(columns={"name": "defendant"})[["user_id", "ts", "defendant", "case_id"]]
    spec = _pii_spec(name_columns=["defendant", "case_id"])
    results = pii.run(spec.checks.privacy, make_data(spec, frame))
    assert _by(results, "name_share", column="defendant").value == 1.0
    assert _by(results, "name_share", column="defendant").details["why_read"] == "checks.privacy.pii.name_columns"
    case = _by(results, "name_share", column="case_id")  # ids with digits are not names
    assert case.value == 0 and judge(case).severity is Severity.OK
    with pytest.raises(DataError, match=r"checks.privacy.pii.name_columns: 'nope' is not a column"):
        bad = _pii_spec(name_columns=["nope"])
        pii.run(bad.checks.privacy, make_data(bad, frame))


def test_name_shape_and_mask():
    assert is_name_shaped("Jean-Luc Picard") and is_name_shaped("o'neil") and is_name_shaped("J. R. Smith")
    assert (
        not is_name_shaped("13011352CF10A")
        and not is_name_shaped("a")
        and not is_name_shaped("one two three four five")
    )
    assert mask_name("Jane Smith") == "J*** S****"
