"""The reports as a reader sees them: rendered by headless Chromium to PNG and PDF.

The PNG's pixels are counted by colour to check that the charts were drawn: the tinted warning
and critical zones, the series line, and critical markers. A quarter without data must show
none of them. Set ``ETHICS_AUDIT_SCREENSHOTS=DIR`` to keep the PNGs for a look.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest
from history import build_history
from pngpixels import count_colour, read_png

from ethics_audit.reports import build_quarterly_report, render_run_report
from ethics_audit.reports.charts import COLOURS, ZONE_FILL
from ethics_audit.reports.render import find_chromium, screenshot

AFTER = datetime(2026, 11, 1, tzinfo=timezone.utc)
pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _chromium() -> None:
    if find_chromium() is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("Chromium is required in CI (.ci/run installs the Debian package chromium)")
        pytest.skip("no Chromium on this machine: apt-get install chromium")


def _keep(png: Path) -> None:
    folder = os.environ.get("ETHICS_AUDIT_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(png, Path(folder) / png.name)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_quarterly_report_png_and_pdf(store, tmp_path: Path) -> None:
    build_history(store, handled=True)
    result = build_quarterly_report(store, "2026Q3", out_dir=tmp_path / "q", now=AFTER)
    pdf = Path(result["pdf"])
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and len(re.findall(rb"/Type\s*/Page[^s]", data)) >= 4
    png = screenshot(Path(result["html"]), tmp_path / "quarterly.png", width=1280, height=2600)
    _keep(png)
    image = read_png(png)
    assert image.shape[:2] == (2600, 1280)
    # the trend charts: tinted zones, the series in dark blue, critical markers and lines
    assert count_colour(image, ZONE_FILL["critical"], tolerance=2) > 20_000
    assert count_colour(image, ZONE_FILL["warn"], tolerance=2) > 50_000
    assert count_colour(image, COLOURS["series"]) > 1_000
    assert count_colour(image, COLOURS["critical"]) > 2_000

    empty = build_quarterly_report(store, "2026Q1", out_dir=tmp_path / "e", pdf=False, now=AFTER)
    blank = read_png(screenshot(Path(empty["html"]), tmp_path / "empty.png", width=1280, height=1200))
    assert count_colour(blank, ZONE_FILL["critical"], tolerance=2) == 0
    assert count_colour(blank, COLOURS["series"]) == 0


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_pdf_lists_every_incident_of_every_problem(store, tmp_path: Path) -> None:
    """On screen a problem's incidents are folded away (``<details>``); on paper they are printed."""
    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("pdftotext is required in CI (.ci/run installs the Debian package poppler-utils)")
        pytest.skip("no pdftotext to read the PDF with: apt-get install poppler-utils")
    build_history(store, handled=True)
    pdf = build_quarterly_report(store, "2026Q3", out_dir=tmp_path, now=AFTER)["pdf"]
    text = subprocess.run([pdftotext, "-layout", pdf, "-"], capture_output=True, text=True, check=True).stdout
    problems = text[text.index("Problems\n") : text.index("Thresholds and audit specifications")]
    assert len(re.findall(r"#\d+ · ", problems)) == 5  # the problem rows
    assert sorted(int(n) for n in re.findall(r"^\s*#(\d+)\s+[▲◆]", problems, re.M)) == list(range(1, 15))
    assert "incidents of this problem" not in problems  # the fold's label is for the screen


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_run_report_and_public_report_png(store, tmp_path: Path) -> None:
    built = build_history(store, weeks=4)
    png = screenshot(render_run_report(store, built.run_ids[3]), tmp_path / "run.png", width=1280, height=1600)
    _keep(png)
    image = read_png(png)
    # the interval charts draw both threshold lines; the critical badge of the DI ratio shows
    assert count_colour(image, COLOURS["warn"]) > 150
    assert count_colour(image, COLOURS["critical"]) > 500
    public = build_quarterly_report(
        store, "2026Q3", out_dir=tmp_path / "p", pdf=False, now=AFTER, public=True, epsilon=0.5
    )
    png = screenshot(Path(public["html"]), tmp_path / "public.png", width=1280, height=2400)
    _keep(png)
    assert read_png(png).shape[:2] == (2400, 1280)
