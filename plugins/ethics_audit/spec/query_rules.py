"""Rules of a source's SQL text and URL: values are bound, never written into the text.

The window is bound as ``:window_start`` / ``:window_end`` parameters, not formatted or written
into the text as a literal date, and passwords come from the environment, never from a spec
file that is committed and snapshotted. ``sources`` applies these to its fields; each function
returns the problem's message, or None.
"""

from __future__ import annotations

import re

_FORMATTED_WINDOW = re.compile(
    r"\{\{[^}]*\}\}|\{[^}]*\}|%\(\s*\w+\s*\)s|%s|\$\{[^}]*\}"
    # literal dates, however quoted: '2026-07-27', "2026-07-27 00:00", '20260727', '2026/07/27'
    r"|'\s*\d{4}[-/]?\d{2}[-/]?\d{2}[^']*'|\"\s*\d{4}[-/]?\d{2}[-/]?\d{2}[^\"]*\""
)
# comments and string literals: a bind written there binds nothing
_NOT_SQL_CODE = re.compile(r"--[^\n]*|/\*.*?\*/|'(?:[^']|'')*'", re.S)
_PASSWORD_IN_URL = re.compile(r"^[\w+.-]+://[^/:@]*:(?!\$\{)[^@/]+@")


def formatted_value_problem(query: str) -> str | None:
    """A value formatted into the SQL text (a template, a %s, a literal date): bind the window instead."""
    bad = _FORMATTED_WINDOW.search(query)
    if bad:
        return (
            f"the query formats a value into the SQL text ({bad.group(0)!r}); bind the window "
            "instead, e.g. WHERE ts >= :window_start AND ts < :window_end"
        )
    return None


def window_bind_problem(query: str) -> str | None:
    """The predictions query must bind both window ends in its code (not in a comment or string)."""
    code = _NOT_SQL_CODE.sub(" ", query)
    missing = [p for p in (":window_start", ":window_end") if not re.search(re.escape(p) + r"\b", code)]
    if missing:
        return f"the query must bind {' and '.join(missing)}, e.g. WHERE ts >= :window_start AND ts < :window_end"
    return None


def literal_password_problem(url: str) -> str | None:
    """A password written into a URL would sit in a committed, snapshotted spec file."""
    if _PASSWORD_IN_URL.match(url):
        return (
            "the URL holds a literal password; read it from the environment, e.g. "
            "postgresql+psycopg://user:${PGPASSWORD}@host/db"
        )
    return None
