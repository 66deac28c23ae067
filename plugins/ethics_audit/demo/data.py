"""The demo's data: a synthetic job-ad delivery model's prediction logs, seeded, with its problems.

A social network decides which users are shown a job ad (``shown``) from a click-probability
score. The logs cover ``weeks`` weekly windows from Monday 2026-07-06 (inside 2026Q3). Most
weeks are clean; the weeks listed in ``problems.INJECTED`` carry one known problem each, made
here (``make_week``) and in ``transparency``, so the audit's findings can be checked against
the truth. Everything is seeded: the same data every time.

Files written under ``$ETHICS_AUDIT_HOME/demo``: ``predictions/week=NN.parquet``,
``labels/week=NN.parquet`` (clicks arrive late: the last weeks are partly or not labelled),
``baseline.parquet`` (June validation data, the drift reference), ``consent.parquet`` (the
consent ledger) and the transparency ledgers of ``transparency`` (``explanations.parquet``,
``controls.parquet``, ``appeals.parquet``). The spec that audits them is
``audits/examples/ad_delivery.yaml``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np
    import pandas as pd

DEMO_START = datetime(2026, 7, 6, tzinfo=timezone.utc)  # a Monday; 12 weeks stay inside 2026Q3
USERS = 60_000
PURPOSE = "ad_targeting"
GENDERS = ("f", "m", "x")
AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55+")
REGIONS = ("north", "south", "east", "west", "central")
DEVICES = ("ios", "android", "web")
# the job category an ad was for: a legitimate factor (checks.fairness.legitimate_factors). Women and
# men see different mixes of job ads, but the week-4 pacing bug cuts delivery to women in every
# category alike, so the gap persists within categories: the category does not explain it.
JOB_CATEGORIES = ("engineering", "sales", "healthcare", "logistics", "finance")
JOB_MIX = {"f": [0.15, 0.2, 0.35, 0.1, 0.2], "m": [0.35, 0.2, 0.1, 0.2, 0.15], "x": [0.2] * 5}
FEATURES = (
    "sessions_7d",
    "minutes_per_day",
    "ad_clicks_30d",
    "followers",
    "account_age_days",
    "posts_7d",
    "interest_tech",
    "interest_careers",
    "interest_sports",
    "device",
)
POSTS = (
    "Loving the new season of my favourite show",
    "Just finished a 10k run, feeling great",
    "Anyone hiring junior developers in my area?",
    "Weekend hike with the dog, the views were amazing",
    "Release notes for v10.0.0.1 are out, upgrade soon",
    "Order #402918374652 arrived two days early",
    "Tracking number 1234567812345678 shows it is in transit",
    "Looking for recommendations for a good budget laptop",
    "Started a new job today, wish me luck",
    "Conference talk at 10:30 on 2026-07-14, slides to follow",
    "Made sourdough for the first time",
    "Our team shipped build 2026.07.3 tonight",
)
BIOS = (
    "Coffee, code and cats",
    "Marketing at a small startup",
    "Nurse, runner, mum of two",
    "Student, photography hobbyist",
    "Views are my own",
    "Gardener and amateur astronomer",
    "",
)
# Synthetic PII for week 9: reserved example domains, fictional phone ranges, Luhn-valid test cards.
LEAKED = (
    "contact me at {name}@example.com for the referral",
    "text me on +44 7700 900{n3} about the role",
    "my card 4242 4242 4242 4242 was charged twice",
    "call (555) 010-{n4} after 6pm",
    "reach {name}.work@example.org or 4111-1111-1111-1111 for the deposit",
    "paid with 5555555555554444, still no confirmation",
)


def week_window(week: int) -> tuple[datetime, datetime]:
    start = DEMO_START + timedelta(weeks=week - 1)
    return start, start + timedelta(weeks=1)


def _users(rng: np.random.Generator) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    return pd.DataFrame(
        {
            "user_id": np.char.add("u-", np.char.zfill(np.arange(USERS).astype(str), 6)),
            "gender": rng.choice(GENDERS, USERS, p=[0.47, 0.47, 0.06]),
            "age_band": rng.choice(AGE_BANDS, USERS, p=[0.2, 0.27, 0.22, 0.17, 0.14]),
            "region": rng.choice(REGIONS, USERS),
            "in_training": rng.random(USERS) < 0.3,
            "account_age_days": rng.integers(30, 3000, USERS),
            "followers": np.round(rng.lognormal(5, 1.2, USERS)).astype(int),
        }
    )


def _consent(users: pd.DataFrame, rng: np.random.Generator, weeks: int) -> pd.DataFrame:
    """Everyone granted in 2025; some withdraw, object or ask for erasure during the demo."""
    import pandas as pd

    n = len(users)
    granted = pd.DataFrame(
        {
            "entity_id": users["user_id"],
            "purpose": PURPOSE,
            "event": "granted",
            "timestamp": pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 360, n), unit="D"),
        }
    )
    span = weeks * 7 * 86400
    changes = []
    for event, share, purpose in (
        ("withdrawn", 0.04, PURPOSE),
        ("objected", 0.01, PURPOSE),
        ("erasure_requested", 0.006, PURPOSE),
        ("withdrawn", 0.05, "analytics"),  # another purpose: must not count against this model
    ):
        chosen = rng.choice(n, int(n * share), replace=False)
        changes.append(
            pd.DataFrame(
                {
                    "entity_id": users["user_id"].to_numpy()[chosen],
                    "purpose": purpose,
                    "event": event,
                    # early in the demo, so by week 10 erasure requests are older than 30 days
                    "timestamp": pd.Timestamp(DEMO_START)
                    + pd.to_timedelta(rng.integers(0, int(span * 0.6), len(chosen)), unit="s"),
                }
            )
        )
    return pd.concat([granted, *changes], ignore_index=True).sort_values("timestamp", ignore_index=True)


def _stopped_at(consent: pd.DataFrame) -> pd.Series:
    """When each user stopped allowing this purpose (withdrawn, objected or erasure requested)."""
    ledger = consent[(consent["purpose"] == PURPOSE) & (consent["event"] != "granted")]
    return ledger.groupby("entity_id")["timestamp"].min()


def _text(rng: np.random.Generator, pool: tuple[str, ...], n: int) -> np.ndarray:
    return rng.choice(pool, n)


def _job_categories(gender: np.ndarray, seed: int) -> np.ndarray:
    """Drawn from a generator of its own, so every other column is what it was before it existed."""
    import numpy as np

    rng = np.random.default_rng([seed, 17])
    out = np.empty(len(gender), dtype=object)
    for value, mix in JOB_MIX.items():
        rows = np.flatnonzero(gender == value)
        out[rows] = rng.choice(JOB_CATEGORIES, len(rows), p=mix)
    return out


def _score(frame: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """The model's click probability; well calibrated, so clicks are drawn from it."""
    import numpy as np

    minutes = frame["minutes_per_day"].to_numpy(dtype=float)
    sessions = np.nan_to_num(frame["sessions_7d"].to_numpy(dtype=float), nan=7.0)
    logit = (
        -2.3
        + 0.9 * frame["interest_careers"].to_numpy()
        + 0.6 * frame["interest_tech"].to_numpy()
        + 0.18 * np.log1p(minutes)
        + 0.05 * sessions
        + 0.08 * frame["ad_clicks_30d"].to_numpy()
        + rng.normal(0, 0.9, len(frame))
    )
    return 1 / (1 + np.exp(-logit))


def make_week(
    week: int, users: pd.DataFrame, consent: pd.DataFrame, rows: int, seed: int, *, baseline: bool = False
) -> pd.DataFrame:
    """One week of prediction logs (or the June baseline), with that week's injected problem."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    start, end = (datetime(2026, 6, 1, tzinfo=timezone.utc),) * 2 if baseline else week_window(week)
    if baseline:
        end = start + timedelta(days=28)
    # a working consent filter: nobody is scored once they stopped allowing the purpose
    # (in week 10 the filter is down)
    filter_consent = not baseline and week != 10
    stopped = _stopped_at(consent)
    eligible = users
    if filter_consent:
        eligible = users[~users["user_id"].isin(stopped[stopped < pd.Timestamp(start)].index)]
    picked = eligible.iloc[rng.integers(0, len(eligible), rows)].reset_index(drop=True)
    n = len(picked)
    seconds = rng.integers(0, int((end - start).total_seconds()), n)
    frame = pd.DataFrame(
        {
            "prediction_id": [f"p-{seed:05d}-{i:06d}" for i in range(n)],
            "user_id": picked["user_id"],
            "ts": pd.Timestamp(start) + pd.to_timedelta(np.sort(seconds), unit="s"),
            "gender": picked["gender"],
            "age_band": picked["age_band"],
            "region": picked["region"],
            "device": rng.choice(DEVICES, n, p=[0.4, 0.45, 0.15]),
            "sessions_7d": rng.poisson(9, n).astype(float),
            "minutes_per_day": np.round(rng.lognormal(3.4, 0.6, n), 1),
            "ad_clicks_30d": rng.poisson(1.5, n),
            "followers": picked["followers"],
            "account_age_days": picked["account_age_days"],
            "posts_7d": rng.poisson(3, n),
            "interest_tech": np.round(rng.beta(2, 5, n), 3),
            "interest_careers": np.round(rng.beta(2, 4, n), 3),
            "interest_sports": np.round(rng.beta(2, 3, n), 3),
            "post_text": _text(rng, POSTS, n),
            "profile_bio": _text(rng, BIOS, n),
            "in_training": picked["in_training"],
        }
    )
    if week == 8:
        android = frame["device"] == "android"
        frame.loc[android, "minutes_per_day"] = frame.loc[android, "minutes_per_day"] * 60
        frame.loc[rng.random(n) < 0.15, "sessions_7d"] = np.nan
        frame.loc[rng.random(n) < 0.05, "device"] = "smart_tv"
    if week == 9:
        leak = np.flatnonzero(rng.random(n) < 0.012)
        names = rng.choice(["jane.doe", "sam.lee", "alex.k", "maria.g"], len(leak))
        texts = [
            rng.choice(LEAKED).format(name=name, n3=f"{rng.integers(0, 1000):03d}", n4=f"{rng.integers(0, 10000):04d}")
            for name in names
        ]
        column = np.where(rng.random(len(leak)) < 0.7, "post_text", "profile_bio")
        for idx, text, col in zip(leak, texts, column, strict=True):
            frame.at[idx, col] = text
    frame["score"] = np.round(_score(frame, rng), 4)
    threshold = np.full(n, 0.46)
    if week in (4, 5):  # auction pacing: women are costlier to reach, so fewer are shown the ad
        threshold[frame["gender"].to_numpy() == "f"] = 0.565
    frame["shown"] = (frame["score"].to_numpy() >= threshold).astype(int)
    frame["clicked_truth"] = (rng.random(n) < frame["score"].to_numpy()).astype(int)
    frame["job_category"] = _job_categories(frame["gender"].to_numpy(), seed)
    if filter_consent:  # users who stop during the week are not scored after that moment
        frame = frame[~(frame["ts"] >= frame["user_id"].map(stopped))].reset_index(drop=True)
    return frame


def generate(
    root: Path, *, weeks: int = 12, rows_per_week: int = 20000, seed: int = 7, late_labels: bool = True
) -> dict[str, Any]:
    """Write the demo's files under ``root``; returns what was written. ``late_labels=False``
    writes every week's clicks, as they are once the last labels arrive (same predictions)."""
    import numpy as np
    import pandas as pd

    from ethics_audit.demo import transparency

    rng = np.random.default_rng(seed)
    users = _users(rng)
    consent = _consent(users, rng, weeks)
    for sub in ("predictions", "labels"):
        folder = root / sub
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.parquet"):
            old.unlink()
    consent.to_parquet(root / "consent.parquet", index=False)
    # the transparency ledgers draw from their own generator: the other families' data stay as they were
    t_rng = np.random.default_rng(seed + 15)
    controls = transparency.controls_ledger(users, t_rng, DEMO_START, weeks)
    controls.to_parquet(root / "controls.parquet", index=False)
    explanations, appeals = [], []
    base = make_week(0, users, consent, rows_per_week, seed=seed * 1000, baseline=True)
    base = transparency.apply_controls(base.rename(columns={"clicked_truth": "clicked"}), controls, 0)
    base.to_parquet(root / "baseline.parquet", index=False)
    total = 0
    for week in range(1, weeks + 1):
        frame = make_week(week, users, consent, rows_per_week + int(rng.integers(-500, 500)), seed=seed * 1000 + week)
        frame = transparency.apply_controls(frame, controls, week)
        explanations.append(transparency.explanation_log(frame, week, t_rng))
        appeals.append(transparency.appeals_ledger(frame, week, t_rng, week_window(weeks)[1] + timedelta(days=1)))
        labels = frame[["prediction_id", "clicked_truth", "ts"]].rename(columns={"clicked_truth": "clicked"})
        # clicks arrive late: the newest week has none yet, the one before it half
        if week == weeks and late_labels:
            labels = labels.iloc[0:0]
        elif week == weeks - 1 and late_labels:
            labels = labels[labels["ts"] < labels["ts"].quantile(0.5)]
        labels = labels.assign(labelled_at=labels["ts"] + pd.Timedelta(days=3)).drop(columns="ts")
        frame.drop(columns="clicked_truth").to_parquet(root / "predictions" / f"week={week:02d}.parquet", index=False)
        labels.to_parquet(root / "labels" / f"week={week:02d}.parquet", index=False)
        total += len(frame)
    pd.concat(explanations, ignore_index=True).to_parquet(root / "explanations.parquet", index=False)
    pd.concat(appeals, ignore_index=True).to_parquet(root / "appeals.parquet", index=False)
    return {"root": str(root), "weeks": weeks, "rows": total, "users": len(users), "consent_events": len(consent)}
