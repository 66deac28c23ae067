"""A remedy section as words for each destination, within each destination's size limit.

``text`` (console, Jira with ``style="jira"``), ``markdown`` (GitHub) and ``slack_blocks``
(Block Kit). Each fits the section into a character budget line by line, most important first
(headline, drivers, fixes, then tables and notes), and when something had to go it ends with a
line saying so and where the whole section is (the run report).
"""

from __future__ import annotations

from typing import Any

TITLE = "What drives it / What would fix it"
# Slack: a section block's text is at most 3,000 characters, a message at most 50 blocks
SLACK_SECTION_CHARS = 3000
SLACK_BLOCKS = 50


def _cell(value: Any) -> str:
    return str(value)


def _lines(section: dict[str, Any], style: str) -> list[str]:
    """Every line of the section in order of importance (the budget cuts from the end)."""
    family = section.get("family", "")
    bullet = "* " if style == "jira" else "- "
    out = [f"{TITLE} ({family})" if style != "markdown" else f"### {TITLE} ({family})", section.get("headline", "")]
    if section.get("drivers"):
        out.append("What drives it:" if style != "markdown" else "**What drives it**")
        out += [bullet + d for d in section["drivers"]]
    if section.get("fixes"):
        out.append(
            "What would fix it (options, never applied):"
            if style != "markdown"
            else "**What would fix it** (options, never applied)"
        )
        out += [bullet + f for f in section["fixes"]]
    for table in section.get("tables", []):
        out.append("")
        out += _table(table, style)
    if section.get("notes"):
        out.append("Notes: " + " ".join(section["notes"]))
    return out


def _table(table: dict[str, Any], style: str) -> list[str]:
    columns, rows = table["columns"], table["rows"]
    if style == "markdown":

        def esc(v: Any) -> str:
            return _cell(v).replace("|", "\\|")

        return [
            f"**{table['title']}**",
            "",
            "| " + " | ".join(map(esc, columns)) + " |",
            "|" + "---|" * len(columns),
        ] + ["| " + " | ".join(map(esc, r)) + " |" for r in rows]
    if style == "jira":

        def esc(v: Any) -> str:
            return _cell(v).replace("|", "/") or " "

        return [table["title"] + ":", "||" + "||".join(map(esc, columns)) + "||"] + [
            "|" + "|".join(map(esc, r)) + "|" for r in rows
        ]
    widths = [
        max(len(_cell(c)), *(len(_cell(r[i])) for r in rows)) if rows else len(_cell(c)) for i, c in enumerate(columns)
    ]
    widths = [min(w, 60) for w in widths]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return [table["title"] + ":"] + ["  " + fmt.format(*[_cell(v)[:60] for v in row]) for row in [columns, *rows]]


def _fit(lines: list[str], limit: int, link: str | None) -> str:
    tail = "… (shortened to fit; the whole section is in the run report" + (f": {link})" if link else ")")
    text = "\n".join(lines)
    if len(text) <= limit:
        return text
    budget = limit - len(tail) - 1
    kept: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) + 1 > budget:
            if not kept:  # a single huge line: cut it
                kept.append(line[: max(0, budget - 1)])
            break
        kept.append(line)
        used += len(line) + 1
    return "\n".join([*kept, tail])


def text(section: dict[str, Any], *, limit: int = 30_000, link: str | None = None, style: str = "plain") -> str:
    return _fit(_lines(section, style), limit, link)


def markdown(section: dict[str, Any], *, limit: int = 60_000, link: str | None = None) -> str:
    return _fit(_lines(section, "markdown"), limit, link)


def esc(text: str) -> str:
    """Slack mrkdwn treats &, < and > as markup (as ``notify.slack.esc``; not imported from there:
    notify imports this module)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_blocks(section: dict[str, Any], *, link: str | None = None, max_blocks: int = 20) -> list[dict[str, Any]]:
    """Block Kit for the section's thread reply: a header, the headline, drivers, fixes and tables
    (as preformatted text), each block within Slack's 3,000 characters, at most ``max_blocks``."""

    def section_block(body: str) -> dict[str, Any]:
        return {"type": "section", "text": {"type": "mrkdwn", "text": body}}

    def fitted(lines: list[str], prefix: str = "", suffix: str = "") -> str:
        return prefix + _fit(lines, SLACK_SECTION_CHARS - len(prefix) - len(suffix), link) + suffix

    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"{TITLE} ({section.get('family', '')})"[:150]}},
        section_block(fitted([esc(section.get("headline", ""))])),
    ]
    if section.get("drivers"):
        blocks.append(section_block(fitted(["*What drives it*"] + [f"• {esc(d)}" for d in section["drivers"]])))
    if section.get("fixes"):
        blocks.append(
            section_block(
                fitted(["*What would fix it* (options, never applied)"] + [f"• {esc(f)}" for f in section["fixes"]])
            )
        )
    for table in section.get("tables", []):
        lines = _table(table, "plain")
        blocks.append(section_block(fitted([esc(line) for line in lines], "```", "```")))
    if section.get("notes"):
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": fitted([esc(" ".join(section["notes"]))])}]}
        )
    if len(blocks) > max_blocks:
        more = f"… {len(blocks) - max_blocks + 1} more parts in the run report" + (f": {link}" if link else "")
        blocks = blocks[: max_blocks - 1] + [{"type": "context", "elements": [{"type": "mrkdwn", "text": esc(more)}]}]
    return blocks


def for_problems(problems: list[dict[str, Any]], runs: list[Any]) -> None:
    """Give each quarterly-report problem the remedy section of the window it began in (its
    headline and first fixes, as ``problem["remedy"]``), when that window's run kept one."""
    by_window = {(r.audit_id, r.window_start): (r.summary or {}).get("remedies") or {} for r in runs}
    for problem in problems:
        section = by_window.get((problem["audit_id"], problem["first_window"]), {}).get(problem["check"])
        if section:
            problem["remedy"] = {"headline": section.get("headline", ""), "fixes": section.get("fixes", [])[:2]}
