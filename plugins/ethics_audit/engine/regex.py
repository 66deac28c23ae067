"""A scan pattern written for RE2 as the engine's regex dialect reads it.

The families write their candidate filters in the syntax RE2 and Python's ``re`` share (see
``checks.privacy.entities.patterns``). DuckDB runs RE2 and Spark Java's regex, which read it as
written. PostgreSQL's ARE regex does not: ``\\b`` there is a backspace (its word boundary ``\\y``
follows the database's locale, so ``é4111`` has none), and scoped flags such as ``(?i:x)`` are
refused. ``for_engine`` rewrites a pattern for PostgreSQL into one that matches *at least* what
RE2 matches: word boundaries are dropped (an assertion removed only adds matches) and a
case-insensitive group spells each letter as ``[xX]``. It is a candidate filter only: the
process confirms every candidate with the original pattern, so the counts are RE2's exactly.
"""

from __future__ import annotations


def for_engine(pattern: str, engine: str) -> str:
    """``pattern`` (RE2 syntax) for ``engine``'s regex: as written, or widened for PostgreSQL."""
    if engine == "postgres":
        return postgres(pattern)
    return pattern


def postgres(pattern: str) -> str:
    """An ARE pattern that matches every string the RE2 ``pattern`` matches (see the module)."""
    out: list[str] = []
    groups: list[bool] = []  # per open group: case-insensitive
    bracket = False  # inside [...]
    i = 0
    while i < len(pattern):
        c = pattern[i]
        fold = bool(groups) and groups[-1]
        if c == "\\":
            escaped = pattern[i : i + 2]
            if escaped in ("\\b", "\\B") and not bracket:
                i += 2  # a word-boundary assertion: dropped, which only widens the match
                continue
            if len(escaped) == 2 and escaped[1].isalpha() and escaped[1] not in "dDsSwWnrtfv":
                raise ValueError(f"the scan pattern escape {escaped!r} has no PostgreSQL equivalent here")
            out.append(escaped)
            i += 2
            continue
        if bracket:
            if c == "]" and out[-1] != "[" and out[-1] != "[^":
                bracket = False
            out.append(c)
        elif c == "[":
            if fold:
                raise ValueError("a [class] inside a case-insensitive group has no PostgreSQL equivalent here")
            bracket = True
            negated = pattern.startswith("[^", i)
            out.append("[^" if negated else "[")
            i += 2 if negated else 1
            continue
        elif c == "(":
            flags, rest = _group_head(pattern, i)
            groups.append(fold or (flags is not None and "i" in flags))
            out.append("(?:" if flags is not None else "(")
            i = rest
            continue
        elif c == ")":
            if groups:
                groups.pop()
            out.append(c)
        elif fold and c.isascii() and c.isalpha():
            out.append(f"[{c.lower()}{c.upper()}]")
        else:
            out.append(c)
        i += 1
    return "".join(out)


def _group_head(pattern: str, i: int) -> tuple[str | None, int]:
    """The flags of the group opening at ``i`` (None: a capturing group) and where its body starts."""
    if not pattern.startswith("(?", i):
        return None, i + 1
    colon = pattern.find(":", i)
    flags = pattern[i + 2 : colon] if colon > 0 else ""
    if colon < 0 or not set(flags) <= {"i"}:
        raise ValueError(f"the scan pattern group {pattern[i : i + 4]!r}... has no PostgreSQL equivalent here")
    return flags, colon + 1
