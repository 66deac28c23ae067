"""Reading a report back as its reader does: the problems section as text, row by row."""

from __future__ import annotations

import re


def text_of(html: str) -> str:
    """The words of an HTML fragment, tags dropped and spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def problems_of(html: str) -> list[tuple[str, list[str]]]:
    """Each problem row of a quarterly report as text, with the text of each of its incident rows."""
    section = html[html.index('<h2 id="problems"') :]
    section = section[: section.index("</table>\n</div>")]
    out = []
    for part in section.split('<tbody class="problem">')[1:]:
        head, members = part.split('<tr class="members">')
        rows = members.split("<tbody>", 1)[1].split("</tbody>", 1)[0].split("</tr>")[:-1]
        out.append((text_of(head), [text_of(r) for r in rows]))
    return out
