"""The demo's transparency data: an explanation log, a user-controls ledger and an appeals ledger.

The job-ad model explains each decision with up to three reason codes taken from the features
(never from the person's group), honours the ``personalised_ads: off`` setting six hours after
a user chooses it (the audit allows a day) by serving contextual ads, and lets people appeal
not being shown the ad. Three weeks carry a known problem (``problems.INJECTED``): week 2's Android
app release logs no explanations, week 6's ad server ignores the setting, and in week 7
women's appeals are overturned twice as often as men's and answered late. Near-misses stay in
clean weeks: 0.4% of explanations are lost anyway, settings apply hours late, a few appeals
take six days. Everything is seeded.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

EXPLANATIONS_LOST_WEEK = 2  # the Android release that stopped logging explanations
CONTROLS_IGNORED_WEEK = 6  # the ad server's setting filter is down
APPEALS_WEEK = 7  # women's appeals overturned twice as often, and answered late
CONTROL = "personalised_ads"
APPLY_DELAY_HOURS = 6
REASONS = {
    "careers_interest": ("interest_careers", 0.45),
    "tech_interest": ("interest_tech", 0.35),
    "high_activity": ("minutes_per_day", 45.0),
    "recent_ad_clicks": ("ad_clicks_30d", 2),
    "many_sessions": ("sessions_7d", 11),
}


def controls_ledger(users: pd.DataFrame, rng: np.random.Generator, start: datetime, weeks: int) -> pd.DataFrame:
    """10% of users turned personalised ads off before the demo; more switch off (and some back on) during it."""
    import pandas as pd

    ids = users["user_id"].to_numpy()
    n = len(ids)
    span = weeks * 7 * 86400
    begin = pd.Timestamp(start)

    def events(share: float, control: str, value: str, at: pd.Timestamp, within: int) -> pd.DataFrame:
        chosen = rng.choice(n, int(n * share), replace=False)
        stamps = at + pd.to_timedelta(rng.integers(0, within, len(chosen)), unit="s")
        return pd.DataFrame({"entity_id": ids[chosen], "control": control, "value": value, "timestamp": stamps})

    year = 365 * 86400
    frames = [
        events(0.10, CONTROL, "off", begin - pd.Timedelta(days=365), year),
        events(0.03, CONTROL, "off", begin, span),
        events(0.02, CONTROL, "on", begin, span),
        events(0.05, "non_profiling_feed", "on", begin - pd.Timedelta(days=365), year + span),  # not audited here
    ]
    return pd.concat(frames, ignore_index=True).sort_values("timestamp", ignore_index=True)


def apply_controls(frame: pd.DataFrame, ledger: pd.DataFrame, week: int) -> pd.DataFrame:
    """The ``targeting`` each prediction got: contextual when the user's setting, six hours
    before, was off; in the broken week everyone gets personalised ads."""
    import numpy as np
    import pandas as pd

    frame = frame.assign(targeting="personalised")
    if week == CONTROLS_IGNORED_WEEK or frame.empty:
        return frame
    settings = ledger[ledger["control"] == CONTROL].sort_values("timestamp")
    lookup = pd.DataFrame(
        {
            "user_id": frame["user_id"],
            "at": frame["ts"] - pd.Timedelta(hours=APPLY_DELAY_HOURS),
            "row": np.arange(len(frame)),
        }
    ).sort_values("at")
    joined = pd.merge_asof(
        lookup, settings.rename(columns={"entity_id": "user_id", "timestamp": "at"}), on="at", by="user_id"
    )
    off = joined.loc[joined["value"].eq("off"), "row"].to_numpy()
    frame.loc[frame.index[off], "targeting"] = "contextual"
    return frame


def explanation_log(frame: pd.DataFrame, week: int, rng: np.random.Generator) -> pd.DataFrame:
    """One explanation per decision, with the reason codes its features support; a few are lost."""
    import numpy as np
    import pandas as pd

    n = len(frame)
    cited = np.stack([frame[column].to_numpy(dtype=float) > cut for column, cut in REASONS.values()], axis=1)
    names = np.array(list(REASONS))
    codes = [";".join(names[row][:3]) or "general_audience" for row in cited]
    logged = rng.random(n) >= 0.004  # the logging pipeline loses a few anyway
    if week == EXPLANATIONS_LOST_WEEK:
        logged &= frame["device"].to_numpy() != "android"
    return pd.DataFrame(
        {
            "prediction_id": frame["prediction_id"].to_numpy()[logged],
            "explanation_id": [f"x-{pid}" for pid in frame["prediction_id"].to_numpy()[logged]],
            "reason_codes": np.asarray(codes, dtype=object)[logged],
        }
    )


def appeals_ledger(frame: pd.DataFrame, week: int, rng: np.random.Generator, now: datetime) -> pd.DataFrame:
    """Appeals of not being shown the ad, as the ledger stands at ``now`` (the demo's last audit)."""
    import numpy as np
    import pandas as pd

    adverse = frame[frame["shown"] == 0]
    chosen = adverse[rng.random(len(adverse)) < 0.08]
    n = len(chosen)
    women = chosen["gender"].to_numpy() == "f"
    overturn = np.full(n, 0.25)
    days = rng.uniform(0.5, 5.0, n)
    days[rng.random(n) < 0.02] = 6.2  # a few take six days: inside the 7-day SLA
    if week == APPEALS_WEEK:
        overturn[women] = 0.5
        days[women] = rng.uniform(5.0, 14.0, int(women.sum()))
    filed = chosen["ts"] + pd.to_timedelta(rng.uniform(0, 3, n) * 86400, unit="s")
    decided = filed + pd.to_timedelta(days * 86400, unit="s")
    outcome = np.where(rng.random(n) < overturn, "overturned", "upheld")
    ledger = pd.DataFrame(
        {
            "appeal_id": [f"ap-{pid}" for pid in chosen["prediction_id"]],
            "prediction_id": chosen["prediction_id"].to_numpy(),
            "filed_at": filed.reset_index(drop=True),
            "decided_at": decided.reset_index(drop=True),
            "outcome": outcome,
        }
    )
    at = pd.Timestamp(now)
    ledger = ledger[ledger["filed_at"] <= at].reset_index(drop=True)
    undecided = ledger["decided_at"] > at
    ledger["outcome"] = ledger["outcome"].where(~undecided, "pending")
    ledger["decided_at"] = ledger["decided_at"].where(~undecided)
    return ledger
