"""5M rows pushed down into PostgreSQL (issue 12): the table is generated inside the database
(``generate_series`` into an unlogged table, never through pandas), the four families run there, their counts equal
SQL computed here independently, and this process's memory stays flat: nothing is materialised."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from ethics_audit.checks.dispatch import run_check
from ethics_audit.engine import sql as pushdown
from ethics_audit.spec import AuditSpec

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
ROWS, REFERENCE_ROWS = 5_000_000, 500_000
START = datetime(2026, 7, 6, tzinfo=timezone.utc)
END = START + timedelta(days=7)
# one person's quasi-identifiers follow from their id, so "the latest row per person" is unambiguous
GENERATE = """
CREATE UNLOGGED TABLE predictions AS
SELECT i AS prediction_id, u AS user_id,
       timestamptz '2026-07-06 00:00:00+00' - CASE WHEN i > :rows THEN interval '7 days' ELSE interval '0' END
           + ((i * 7919) % 604800) * interval '1 second' AS ts,
       (ARRAY['f', 'm', 'x'])[1 + (u % 100 >= 48)::int + (u % 100 >= 95)::int] AS gender,
       (ARRAY['18-29', '30-44', '45-59', '60+'])[1 + (u / 7) % 4] AS age_band,
       (ARRAY['north', 'south', 'east', 'west'])[1 + (u / 29) % 4] AS region,
       random() * 10 + CASE WHEN i > :rows THEN 0.5 ELSE 0 END AS num_00,
       CASE WHEN i % 17 = 0 THEN NULL ELSE round((random() * 100)::numeric, 2)::float8 END AS num_02,
       CASE WHEN i % 23 = 0 THEN NULL ELSE 'v' || ((i / 3) % 5) END AS cat_01,
       s AS score, (s >= 0.5)::int AS prediction, (random() < s)::int AS label,
       CASE WHEN i % 1000 = 0 THEN 'mail user' || i || '@example.com'
            WHEN i % 997 = 0 THEN 'card 4242 4242 4242 4242'
            WHEN i % 991 = 0 THEN 'order 402918374652 arrived'
            ELSE (ARRAY['great product', 'meh', 'release v10.0.0.1 fixed it', 'shipping took long'])[1 + i % 4]
       END AS comment
FROM (
    SELECT i, (i * 2654435761) % 1500007 AS u, round(random()::numeric, 3)::float8 AS s
    FROM generate_series(1::bigint, :rows + :reference) AS i
) AS g
"""


def spec_for(url: str) -> AuditSpec:
    return AuditSpec.model_validate(
        {
            "id": "pushdown-5m",
            "model": {"name": "pushdown-5m", "version": "1"},
            "window": {"size": "7d"},
            "source": {"query": "SELECT * FROM predictions WHERE ts >= :window_start AND ts < :window_end", "url": url},
            "reference": {"previous_windows": 1},
            "engine": {"kind": "postgres"},
            "columns": {
                "entity_id": "user_id",
                "prediction_id": "prediction_id",
                "timestamp": "ts",
                "prediction": "prediction",
                "score": "score",
                "label": "label",
                "features": ["num_00", "num_02", "cat_01"],
                "sensitive": ["gender", "age_band"],
                "quasi_identifiers": ["gender", "age_band", "region"],
                "text": ["comment"],
            },
            "checks": {
                "quality": {},
                "drift": {},
                "fairness": {"intersections": [["gender", "age_band"]]},
                "privacy": {},
            },
        }
    )


class PeakRss:
    """This process's resident memory, sampled every 20 ms while the block runs (psutil)."""

    def __enter__(self) -> PeakRss:
        import psutil

        self._process = psutil.Process()
        self.before = self.peak = self._process.memory_info().rss
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            self._done.wait(0.02)

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.before) / 2**20


def expected(conn: sa.Connection) -> dict[str, object]:
    """What the families must find, asked of the window directly (three scans)."""
    window = "FROM predictions WHERE ts >= :start AND ts < :end"
    bounds = {"start": START, "end": END}
    counts = conn.execute(
        sa.text(
            "SELECT count(*) AS rows, count(*) FILTER (WHERE num_02 IS NULL) AS num_02_nulls, "
            "count(*) FILTER (WHERE cat_01 IS NULL) AS cat_01_nulls, "
            "count(*) FILTER (WHERE comment LIKE '%@example.com') AS emails, "
            f"count(*) FILTER (WHERE comment = 'card 4242 4242 4242 4242') AS cards {window}"
        ),
        bounds,
    ).one()
    groups = conn.execute(
        sa.text(f"SELECT gender, count(*), sum(prediction), sum(label), sum(prediction * label) {window} GROUP BY 1"),
        bounds,
    ).all()
    classes = conn.execute(
        sa.text(
            "SELECT min(n), sum(n) FROM (SELECT count(DISTINCT user_id) AS n "
            f"{window} GROUP BY gender, age_band, region) AS c"
        ),
        bounds,
    ).one()
    reference = "SELECT count(*) FROM predictions WHERE ts >= :start AND ts < :end"
    return {
        **counts._asdict(),
        "groups": {g: (int(n), int(sel), int(pos), int(tp)) for g, n, sel, pos, tp in groups},
        "k": classes[0],
        "entities": classes[1],  # one class per person: their attributes follow from their id
        "reference_rows": conn.execute(sa.text(reference), {"start": START - timedelta(days=7), "end": START}).scalar(),
    }


def test_five_million_rows_audited_inside_postgresql(pg_url: str) -> None:
    engine = sa.create_engine(pg_url)
    t0 = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT setseed(0.12)"))
        conn.execute(sa.text(GENERATE), {"rows": ROWS, "reference": REFERENCE_ROWS})
        conn.execute(sa.text("ANALYZE predictions"))
    generated = time.perf_counter() - t0
    with engine.connect() as conn:
        want = expected(conn)
    engine.dispose()
    assert want["rows"] == ROWS and want["reference_rows"] == REFERENCE_ROWS

    spec = spec_for(pg_url)
    timings: dict[str, float] = {}
    results = {}
    with PeakRss() as rss:
        t0 = time.perf_counter()
        data = pushdown.load_window(spec, START, END)
        timings["load"] = time.perf_counter() - t0
        for family in ("quality", "drift", "fairness", "privacy"):
            t0 = time.perf_counter()
            results[family] = run_check(family, data)
            timings[family] = time.perf_counter() - t0
    print(f"generated in {generated:.1f} s; {timings}; peak RSS growth {rss.growth_mb:.0f} MB")

    assert data.current is None and "engine.loaded_for" not in data.derived
    assert data.rows == ROWS and data.reference_rows == REFERENCE_ROWS
    errors = [r.details for rs in results.values() for r in rs if r.status.value == "error"]
    assert not errors, errors
    # nothing materialised: 5M rows of these 13 columns take about 2 GB in pandas (0.43 GB measured here)
    assert rss.growth_mb < 1000, rss.growth_mb

    def result(family: str, metric: str, **slice_: str):
        return next(r for r in results[family] if r.metric == metric and r.slice == slice_)

    # fairness: each group's confusion counts
    for group, (n, selected, positives, hits) in want["groups"].items():
        rate = result("fairness", "selection_rate", gender=group)
        assert rate.n == n and rate.details["selected"] == selected and rate.value == selected / n
        tpr = result("fairness", "true_positive_rate", gender=group)
        assert tpr.n == positives and tpr.value == hits / positives
    # quality: the row count and the null counts
    assert result("quality", "row_count").value == ROWS
    for column in ("num_02", "cat_01"):
        share = result("quality", "null_share", column=column)
        assert share.details["unexpected_count"] == want[f"{column}_nulls"] > 0
    # drift: the rows each side compared, the shifted feature found
    num_02 = result("drift", "column_drift", column="num_02")
    assert num_02.n == ROWS - want["num_02_nulls"] and num_02.details["current_nulls"] == want["num_02_nulls"]
    assert num_02.details["reference_n"] > 0 and not num_02.details["drifted"]
    assert result("drift", "column_drift", column="num_00").details["drifted"]
    # privacy: PII rows in the text, and the k-anonymity of the quasi-identifiers' classes
    assert result("privacy", "email_share", column="comment").details["rows"] == want["emails"] > 0
    assert result("privacy", "card_count", column="comment").value == want["cards"] > 0
    k = result("privacy", "k_anonymity")
    assert k.value == want["k"] and k.n == want["entities"]
