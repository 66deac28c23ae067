"""Episodes: an incident's state as a pure function of what the windows said about its key.

One incident per (audit, check, metric, slice) key. ``replay`` goes through the key's
observations in window order: a breach opens an episode, later breaches update it,
``resolve_after_clean_windows`` clean windows resolve it, and a breach after that reopens it.
Re-running a window replaces that window's observation, so it never counts twice; a backfilled
old window is replayed in its place, so it cannot reopen an incident that later windows
resolved. ``diff`` names the transitions between two replays (what a window changed).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ethics_audit.errors import AuditError
from ethics_audit.results import Severity

SYSTEM_ACTOR = "ethics-audit"
ACTIVE = ("open", "acknowledged", "muted")


class IncidentError(AuditError):
    """An incident command that cannot be applied (unknown id, already resolved, bad date)."""


def incident_key(check: str, metric: str, slice_key: str) -> str:
    return f"{check}/{metric}/{slice_key}"


def severity_rank(severity: str | None) -> int:
    return Severity(severity).rank if severity else -1


@dataclass(frozen=True)
class Observation:
    """What one window said about one key: a breach (warn/critical) or clean."""

    window_start: datetime
    breach: bool
    severity: str = "ok"
    value: float | None = None


@dataclass
class Episode:
    """From the breach that opens an incident to the window that resolves it (or until now)."""

    start: datetime
    breaches: list[Observation] = field(default_factory=list)
    clean_streak: int = 0
    resolved_window: datetime | None = None
    resolved_by: str | None = None  # "clean" (automatic) | "manual"

    @property
    def active(self) -> bool:
        return self.resolved_by is None

    @property
    def last_breach(self) -> Observation:
        return self.breaches[-1]

    @property
    def worst(self) -> str:
        return max((b.severity for b in self.breaches), key=severity_rank)

    def signature(self) -> tuple:
        return (self.start, tuple((b.window_start, b.severity) for b in self.breaches), self.resolved_window)


def replay(
    observations: Iterable[Observation], *, clean_to_resolve: int, manual_resolutions: Iterable[datetime] = ()
) -> list[Episode]:
    """The episodes a key went through, replaying its observations in window order.

    ``manual_resolutions`` are the windows that were the newest seen when a person resolved the
    incident by hand: the episode open at that point ends there, and only a breach in a later
    window starts a new one. Windows without a verdict (insufficient data, a failed check) have
    no observation: they neither count as clean nor break a clean streak.
    """
    boundaries = sorted(manual_resolutions)
    episodes: list[Episode] = []
    current: Episode | None = None

    def close_by_hand(before: datetime | None) -> None:
        if current is None or not current.active:
            return
        for boundary in boundaries:
            if boundary >= current.start and (before is None or boundary < before):
                current.resolved_window, current.resolved_by = boundary, "manual"
                return

    for obs in sorted(observations, key=lambda o: o.window_start):
        close_by_hand(obs.window_start)
        if obs.breach:
            if current is None or not current.active:
                current = Episode(start=obs.window_start)
                episodes.append(current)
            current.breaches.append(obs)
            current.clean_streak = 0
        elif current is not None and current.active:
            current.clean_streak += 1
            if current.clean_streak >= clean_to_resolve:
                current.resolved_window, current.resolved_by = obs.window_start, "clean"
    close_by_hand(None)
    return episodes


@dataclass(frozen=True)
class Change:
    """One transition of one incident caused by one window (or a person)."""

    transition: str  # opened | updated | reopened | resolved | backfilled
    notify: bool
    note: str = ""


def diff(
    before: Sequence[Episode], after: Sequence[Episode], window: datetime, latest: datetime | None
) -> list[Change]:
    """The transitions that turn the replay ``before`` into ``after`` when ``window`` changed.

    Only a change of the *current* state is announced: an incident that opens, reopens, gets a
    new breach in the newest window, or resolves. A backfilled window that only rewrites
    history is recorded (``backfilled``) but not announced.
    """
    old = before[-1] if before else None
    new = after[-1] if after else None
    forward = latest is None or window >= latest
    where = "" if forward else f" (backfill of the window starting {window:%Y-%m-%d %H:%M})"
    if new is None:
        if old is not None and old.active:
            return [Change("resolved", True, f"the re-run of the window starting {window:%Y-%m-%d} no longer breaches")]
        return []
    if new.active:
        if old is None:
            return [Change("opened", True, where.strip(" ()"))]
        if not old.active:
            return [Change("reopened", True, "the breach returned" + where)]
        if new.signature() == old.signature():
            return []
        if any(b.window_start == window for b in new.breaches):
            was = {b.window_start: b.severity for b in old.breaches}.get(window)
            now = next(b.severity for b in new.breaches if b.window_start == window)
            note = "breached again" if was is None else f"severity {was} → {now}"
            return [Change("updated", forward, note + where)]
        return [Change("updated", forward, f"the window starting {window:%Y-%m-%d} no longer breaches" + where)]
    if old is not None and old.active:
        how = f"{new.clean_streak} clean windows in a row" if new.resolved_by == "clean" else "resolved by hand"
        return [Change("resolved", True, how + where)]
    if old is None:
        return [
            Change("opened", False, f"backfill: breached in the window starting {new.start:%Y-%m-%d}"),
            Change("resolved", False, f"backfill: later windows were clean up to {new.resolved_window:%Y-%m-%d}"),
        ]
    if [e.signature() for e in before] != [e.signature() for e in after]:
        return [Change("backfilled", False, f"history rewritten by the window starting {window:%Y-%m-%d}")]
    return []
