"""Reports people read: the per-run audit report and the quarterly ethics report (HTML and PDF).

Both read only the results store, never the audited data. ``render_run_report`` writes one
window's page next to the run's artifacts; ``build_quarterly_report`` writes the quarter's
HTML and PDF, optionally as a publishable variant whose group numbers carry differential-privacy
noise. Heavy work (Jinja2, OpenDP, Chromium) starts only inside these functions.
"""

from __future__ import annotations

from ethics_audit.reports.quarterly import build_quarterly_report
from ethics_audit.reports.run_report import render_run_report

__all__ = ["build_quarterly_report", "render_run_report"]
