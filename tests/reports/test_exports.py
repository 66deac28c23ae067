"""`ethics-audit export`: the DSA Art. 15 and NYC LL144 tables, read back and checked against the
raw window by pandas, on SQLite and PostgreSQL stores; the CLI end to end; no ids in the files."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ethics_audit.reports.exports import export
from ethics_audit.runner import audit_window
from helpers import WINDOW_END, WINDOW_START

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "checks"))
from test_transparency_ledgers import _spec_on_disk
from transparency_helpers import DAY, T0

REPO = Path(__file__).resolve().parents[2]


def _read(result: dict) -> tuple[list[dict], dict]:
    with open(result["csv"], newline="") as handle:
        rows = list(csv.DictReader(handle))
    return rows, json.loads(Path(result["json"]).read_text())


@pytest.fixture
def audited(tmp_path: Path, store):
    spec, frame, ledger = _spec_on_disk(tmp_path, np.random.default_rng(21))
    audit_window(spec, WINDOW_START, WINDOW_END, store=store, now=T0 + 8 * DAY)
    return spec, frame, ledger


def test_dsa_export_reads_back_with_the_windows_numbers(tmp_path: Path, store, audited) -> None:
    _, frame, ledger = audited
    result = export(store, "2026Q3", "dsa-art15", out_dir=tmp_path / "out")
    rows, document = _read(result)
    assert document["notice"].startswith("Input to a legal report, not the report itself")
    assert list(document["columns"]) == list(rows[0])
    assert all("Art." in text for key, text in document["columns"].items() if key.startswith("complaints_received"))
    [row] = rows
    adverse = frame[frame["shown"] == 0]
    led = ledger.assign(outcome=ledger["outcome"].str.lower()).sort_values("filed_at")
    led = led.drop_duplicates("prediction_id", keep="last").merge(adverse[["prediction_id"]], on="prediction_id")
    decided = led[led["outcome"].isin(["overturned", "upheld"])]
    hours = np.sort(np.rint((decided["decided_at"] - decided["filed_at"]).dt.total_seconds() / 3600))
    assert row["automated_decisions"] == str(len(frame))
    assert row["adverse_decisions"] == str(len(adverse))
    assert row["complaints_received"] == str(len(led))
    assert row["complaints_decided"] == str(len(decided))
    assert row["decisions_reversed"] == str((decided["outcome"] == "overturned").sum())
    assert float(row["median_days_to_decide"]) == pytest.approx(np.median(hours) / 24, abs=1e-3)
    assert row["decided_past_sla"] == str(int((hours > 5 * 24).sum()))
    assert float(row["explained_decisions_share"]) == pytest.approx(frame["explanation_id"].notna().mean(), abs=1e-6)
    assert document["rows"][0]["complaints_received"] == len(led)


def test_ll144_export_reads_back_with_rates_ratios_and_unknowns(tmp_path: Path, store, audited) -> None:
    _, frame, _ = audited
    result = export(store, "2026Q3", "ll144", out_dir=tmp_path / "out")
    rows, document = _read(result)
    assert document["notice"] and set(document["columns"]) == set(rows[0])
    by = {(r["attribute_set"], r["category"]): r for r in rows}
    selected = frame["shown"] == 1
    rates = selected.groupby(frame["gender"]).mean()
    for gender, rate in rates.items():
        row = by[("gender", f"gender={gender}")]
        assert row["rate_kind"] == "selection_rate"
        assert int(row["applicants"]) == (frame["gender"] == gender).sum()
        assert float(row["rate"]) == pytest.approx(rate, abs=1e-6)
        assert float(row["impact_ratio"]) == pytest.approx(rate / rates.max(), abs=1e-6)
    unknown = frame["age_band"].isna().sum()
    assert unknown > 0
    assert {r["unknown_excluded"] for r in rows if r["attribute_set"] == "age_band"} == {str(unknown)}
    assert not any("None" in r["category"] for r in rows)  # unknowns are excluded, not a category
    known = frame.dropna(subset=["age_band"])
    intersection = known.groupby(["age_band", "gender"]).size() / len(known)
    for (age, gender), share in intersection.items():
        row = by[("age_band+gender", f"age_band={age}, gender={gender}")]
        assert float(row["share_of_data"]) == pytest.approx(share, abs=1e-6)
        assert row["under_2_percent"] == str(share < 0.02)
        assert (row["impact_ratio"] == "") == (share < 0.02)
    assert not any(r["prediction_id"] in Path(result["csv"]).read_text() for r in frame.head(50).to_dict("records"))
    assert not any(u in Path(result["json"]).read_text() for u in frame["user_id"].head(50))


def test_the_cli_writes_both_exports_and_explains_bad_input(tmp_path: Path, _isolated_home: Path) -> None:
    from ethics_audit.store import Store

    _isolated_home.mkdir(parents=True, exist_ok=True)
    store = Store(f"sqlite:///{_isolated_home / 'results.db'}")
    spec, _, _ = _spec_on_disk(tmp_path, np.random.default_rng(22))
    audit_window(spec, WINDOW_START, WINDOW_END, store=store, now=T0 + 8 * DAY)
    store.dispose()
    env = {**os.environ, "ETHICS_AUDIT_HOME": str(_isolated_home), "PYTHONPATH": str(REPO / "plugins")}

    def cli(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "ethics_audit.cli", "export", *args]
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)

    for fmt in ("dsa-art15", "ll144"):
        done = cli("--quarter", "2026Q3", "--format", fmt, "--audit", spec.id, "--out", str(tmp_path / "x"), "--json")
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert Path(result["csv"]).exists() and pd.read_csv(result["csv"]).shape[0] == result["rows"] > 0
    bad = cli("--quarter", "2026Q3", "--format", "dsa")
    assert bad.returncode == 1 and "--format: 'dsa' is not one of dsa-art15, ll144" in bad.stderr
    empty = cli("--quarter", "2025Q1", "--format", "ll144")
    assert empty.returncode == 1 and "no audited windows end in 2025 Q1" in empty.stderr
    assert "Traceback" not in bad.stderr + empty.stderr
