"""The quarterly ethics report: what the periodic audits found over a quarter, for people to read.

Built from the results store alone. For every audit (or the ones named): an executive summary
(audits run, windows covered and missed, problems opened, resolved and still open with their
incidents as the second number, the worst findings); per model a scorecard, a window-by-window
status strip and trend charts of the headline fairness gaps (with intervals), drift share and
privacy findings with the thresholds drawn; the problems (one per alert: the incidents one
cause opened together) with time to acknowledge, time to resolve, tickets and their incidents;
the thresholds and spec versions in force; and a methods section from each check family's
``METHODS``. A window counts in the quarter that holds most of its time (``period``). The public
variant replaces every number derived from individual rows with differentially private group
counts and rates (``reports.dp``) and spends privacy budget from the ledger first.

The parts, in the order the data flows:

    period    which windows a quarter counts and expects; quarter names
    trends    the trend charts of one audit's headline measures
    sections  one audit's part (grid, scorecard, strip, charts, worst findings, spec versions)
    problems  incidents and the problems (alerts) they make up
    build     build_quarterly_report: gather, draw, render, seal in the ledger, write

The plain data these read (``WindowView``) is in ``reports.model``.
"""

from __future__ import annotations

from ethics_audit.reports.quarterly.build import build_quarterly_report
from ethics_audit.reports.quarterly.period import expected_windows, parse, quarter_label, window_lag
from ethics_audit.reports.quarterly.sections import audit_view

__all__ = ["audit_view", "build_quarterly_report", "expected_windows", "parse", "quarter_label", "window_lag"]
