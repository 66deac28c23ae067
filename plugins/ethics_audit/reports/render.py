"""Turning report contexts into files: Jinja2 (autoescaped) to HTML, headless Chromium to PDF and PNG.

The templates live next to this module and share one stylesheet; autoescaping is on for every
template, so text from specs and data is escaped unless a chart helper produced it as
``Markup``. PDF and screenshots come from the same HTML through a headless Chromium found on
the PATH (or ``$ETHICS_AUDIT_CHROMIUM``); without one the HTML is still written and the caller
is told how to get the PDF.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ethics_audit.errors import AuditError

if TYPE_CHECKING:
    from jinja2 import Environment

TEMPLATES = Path(__file__).parent / "templates"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
NO_RENDERER = (
    "no PDF renderer: install Chromium (Debian/Ubuntu: apt-get install chromium) or point "
    "ETHICS_AUDIT_CHROMIUM at a Chrome/Chromium binary; the HTML report was written"
)


class RendererMissing(AuditError):
    """No headless browser to print the PDF with."""


@cache
def environment() -> Environment:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    from ethics_audit.reports import present

    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(enabled_extensions=("html", "j2", "html.j2"), default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        severity=present.severity,
        family_name=present.family_name,
        family_question=lambda family: present.FAMILY_QUESTIONS.get(family, ""),
        metric_name=present.metric_name,
        slice_text=present.slice_text,
        number=present.number,
        interval=present.interval,
        threshold_text=present.threshold_text,
        day=present.day,
        window_text=present.window_text,
        duration=present.duration,
    )
    env.filters["short_day"] = present.short_day
    return env


def render(template: str, context: dict[str, Any]) -> str:
    return environment().get_template(template).render(**context)


def write_html(path: Path, html: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)  # readers (a Slack link, a browser) never see a half-written report
    return path


def find_chromium() -> str | None:
    configured = os.environ.get("ETHICS_AUDIT_CHROMIUM")
    if configured:
        return configured if Path(configured).exists() or shutil.which(configured) else None
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _chromium(args: list[str], *, timeout: float) -> None:
    binary = find_chromium()
    if binary is None:
        raise RendererMissing(NO_RENDERER)
    with tempfile.TemporaryDirectory(prefix="ethics-audit-chromium-") as profile:
        command = [
            binary,
            "--headless",
            "--no-sandbox",  # CI and containers run as root, where Chromium's sandbox refuses to start
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            *args,
        ]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise AuditError(f"Chromium ({binary}) did not finish within {timeout:.0f} s") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise AuditError(f"Chromium ({binary}) failed with exit code {done.returncode}: {' | '.join(tail)}")


def html_to_pdf(html: Path, pdf: Path, *, timeout: float = 120) -> Path:
    """Print ``html`` to ``pdf`` with headless Chromium (A4, the page's own print styles)."""
    pdf.parent.mkdir(parents=True, exist_ok=True)
    tmp = pdf.with_suffix(".pdf.tmp")
    _chromium(
        ["--no-pdf-header-footer", f"--print-to-pdf={tmp}", "--virtual-time-budget=2000", html.resolve().as_uri()],
        timeout=timeout,
    )
    if not tmp.exists() or tmp.stat().st_size == 0:
        raise AuditError(f"Chromium wrote no PDF for {html}")
    tmp.replace(pdf)
    return pdf


def screenshot(html: Path, png: Path, *, width: int = 1280, height: int = 2000, timeout: float = 120) -> Path:
    """A PNG of the page's top ``height`` pixels, as a reader's browser would show it."""
    png.parent.mkdir(parents=True, exist_ok=True)
    _chromium(
        [
            f"--screenshot={png}",
            f"--window-size={width},{height}",
            "--virtual-time-budget=2000",
            html.resolve().as_uri(),
        ],
        timeout=timeout,
    )
    if not png.exists():
        raise AuditError(f"Chromium wrote no screenshot for {html}")
    return png
