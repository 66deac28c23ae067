"""The demo: a synthetic job-ad delivery model's prediction logs, with documented problems, audited.

``data`` writes the seeded logs and ledgers (``transparency`` the transparency ones),
``problems`` lists what was injected in which week and judges each week's outcome against it,
``run`` audits every week, builds the quarterly report and prints the summary table. The names
other code uses are re-exported here.
"""

from __future__ import annotations

from ethics_audit.demo.data import DEMO_START, JOB_CATEGORIES, PURPOSE, USERS, generate, make_week, week_window
from ethics_audit.demo.problems import FAMILIES, INJECTED, Injected
from ethics_audit.demo.run import DEMO_SPEC, run_demo

__all__ = [
    "DEMO_SPEC",
    "DEMO_START",
    "FAMILIES",
    "INJECTED",
    "JOB_CATEGORIES",
    "PURPOSE",
    "USERS",
    "Injected",
    "generate",
    "make_week",
    "run_demo",
    "week_window",
]
