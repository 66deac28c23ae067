"""Speed of the privacy check family on a synthetic window, against Python's ``re`` for the PII part.

Builds ``--rows`` predictions with ``bench.synthetic.frame`` plus a second, high-cardinality
free-text column ``bio`` (every value distinct; 0.2% of rows leak an email, card, phone, IBAN,
SSN or IP; a third hold near-misses: version strings, order numbers, dates), a training-member
flag and a consent ledger. It then times, in one process:

- ``family``: the whole privacy family (every string column, both text columns, 3
  quasi-identifiers, consent, retention, membership inference with a 200-resample bootstrap);
- ``pii_text``: the PII part on the two text columns only, and ``pii_bio`` on ``bio`` alone;
- ``baseline_text`` / ``baseline_bio``: the naive way on the same strings: Python ``re.finditer``
  with the very same patterns per value and entity, and each match validated in Python.

and prints one JSON line with the medians (seconds) and the ratios baseline / ours. The counts
of rows per entity from both implementations are compared (``agree``).

    python bench/privacy_speed.py --rows 1000000 --repeats 3
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "plugins"), str(Path(__file__).resolve().parents[1])]
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bench.synthetic import frame, spec_dict, window  # noqa: E402

LEAKS = (
    "mail me at jane.doe{i}@example.com",
    "card 4242 4242 4242 4242 please refund",
    "call +44 7700 900{i3}",
    "iban GB82 WEST 1234 5698 7654 32",
    "ssn 536-22-{i4}",
    "login from 203.0.113.{i2}",
)
NEAR_MISSES = (
    "release v10.0.0.{i2} is out",
    "order #40291837{i4} arrived",
    "tracking 123456781234{i4}",
    "meet at 10:30 on 2026-07-{d}",
    "build 2026.07.{i2}",
)
WORDS = np.array("the a great product shipping took too long love new colours season meh fast cheap good".split())


# --------------------------------------------------------------------------- the naive reference


def luhn(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card_issuer(digits: str) -> bool:
    n, p = len(digits), digits
    return (
        (p[0] == "4" and n in (13, 16, 19))
        or ((51 <= int(p[:2]) <= 55 or 2221 <= int(p[:4]) <= 2720) and n == 16)
        or (p[:2] in ("34", "37") and n == 15)
        or ((p[:4] == "6011" or 644 <= int(p[:3]) <= 649 or p[:2] in ("65", "62")) and 16 <= n <= 19)
        or (3528 <= int(p[:4]) <= 3589 and 16 <= n <= 19)
        or ((300 <= int(p[:3]) <= 305 or p[:2] in ("36", "38", "39") or p[:4] == "3095") and 14 <= n <= 19)
        or (p[:4] in ("5018", "5020", "5038", "5893", "6304", "6759", "6761", "6762", "6763") and 13 <= n <= 19)
        or (2200 <= int(p[:4]) <= 2204 and 16 <= n <= 19)
    )


def card_ok(text: str) -> bool:
    digits = re.sub(r"[^0-9]", "", text)
    if 13 <= len(digits) <= 19 and luhn(digits) and card_issuer(digits):
        return True
    if len(digits) > 16 and re.search(r"[ \-]", text):
        return any(luhn(d) and card_issuer(d) for d in (digits[:16], digits[-16:]))
    return False


def iban_ok(text: str) -> bool:
    from ethics_audit.checks.privacy.entities import IBAN_LENGTHS

    compact = text.replace(" ", "")
    length = IBAN_LENGTHS.get(compact[:2])
    if length is None or len(compact) < length:
        return False
    compact = compact[:length]
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def ssn_ok(text: str) -> bool:
    m = re.fullmatch(r"([0-9]{3})([\- ])([0-9]{2})([\- ])([0-9]{4})", text)
    if not m or m.group(2) != m.group(4):
        return False
    area, group, serial = int(m.group(1)), int(m.group(3)), int(m.group(5))
    digits = m.group(1) + m.group(3) + m.group(5)
    return (
        0 < area < 900
        and area != 666
        and group > 0
        and serial > 0
        and digits not in ("078051120", "219099999", "123456789")
        and len(set(digits)) > 1
    )


def phone_ok(text: str) -> bool:
    n = len(re.sub(r"[^0-9]", "", text))
    return 8 <= n <= 15 if text.startswith("+") else 10 <= n <= 11


def email_ok(text: str) -> bool:
    local, _, domain = text.partition("@")
    tld = domain.rpartition(".")[2].lower()
    bad_tld = tld in (
        "png",
        "jpg",
        "jpeg",
        "gif",
        "svg",
        "webp",
        "bmp",
        "ico",
        "tif",
        "tiff",
        "css",
        "js",
        "pdf",
        "txt",
    )
    return not (bad_tld or local.startswith(".") or local.endswith(".") or ".." in local)


def ipv4_ok(text: str) -> bool:
    m = re.fullmatch(r"([0-9]+)(?:\.[0-9]+){3}", text)
    return bool(m) and int(m.group(1)) not in (0, 127, 255)


def ipv6_ok(text: str) -> bool:
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return len([g for g in text.split(":") if g]) >= 3 and not (address.is_loopback or address.is_unspecified)


def naive_pii(strings: list[Any], entities: list[str]) -> dict[str, int]:
    """Rows with a confirmed match per entity, the naive way: Python ``re`` on every value."""
    from ethics_audit.checks.privacy.entities import ENTITIES, plausible_date

    validators = {
        "email": email_ok, "phone": phone_ok, "card": card_ok, "iban": iban_ok, "ssn": ssn_ok,
        "ipv4": ipv4_ok, "ipv6": ipv6_ok, "dob": plausible_date,
    }  # fmt: skip
    compiled = [(e, re.compile(ENTITIES[e].pattern, re.ASCII), validators[e]) for e in entities]
    rows = dict.fromkeys(entities, 0)
    for value in strings:
        if not isinstance(value, str):
            continue
        for name, rx, ok in compiled:
            if any(ok(m.group(0)) for m in rx.finditer(value)):
                rows[name] += 1
    return rows


# --------------------------------------------------------------------------- data


def bio_column(rows: int, seed: int) -> pd.Series:
    rng = np.random.default_rng(seed + 1)
    words = rng.choice(WORDS, (rows, 5))
    base = [" ".join(w) + f" #{i}" for i, w in enumerate(words.tolist())]
    kind = rng.random(rows)
    i = rng.integers(0, 10_000, rows)
    for row in np.flatnonzero(kind < 0.002):
        k = int(i[row])
        base[row] += " " + LEAKS[row % len(LEAKS)].format(i=k, i2=k % 250 + 1, i3=f"{k % 1000:03d}", i4=f"{k:04d}")
    for row in np.flatnonzero((kind >= 0.002) & (kind < 0.33)):
        k = int(i[row])
        base[row] += " " + NEAR_MISSES[row % len(NEAR_MISSES)].format(i2=k % 250, i4=f"{k:04d}", d=k % 28 + 1)
    return pd.Series(base, dtype=object)


def build(rows: int, seed: int) -> tuple[Any, Any]:
    """The AuditData (window, consent ledger, membership) and spec of one benchmark run."""
    from ethics_audit.data import AuditData
    from ethics_audit.spec import AuditSpec

    current = frame(rows, seed=seed)
    current["bio"] = bio_column(rows, seed)
    rng = np.random.default_rng(seed + 2)
    current["in_training"] = rng.random(rows) < 0.3
    users = np.unique(current["user_id"].to_numpy())
    start, end = window()
    events = [pd.DataFrame({"entity_id": users, "purpose": "bench", "event": "granted",
                            "timestamp": pd.Timestamp("2025-01-01", tz="UTC")})]  # fmt: skip
    leaving = rng.choice(users, len(users) // 20, replace=False)
    events.append(
        pd.DataFrame(
            {
                "entity_id": leaving,
                "purpose": "bench",
                "event": rng.choice(["withdrawn", "objected", "erasure_requested"], len(leaving)),
                "timestamp": pd.Timestamp(start)
                - pd.Timedelta(days=40)
                + pd.to_timedelta(rng.integers(0, 45 * 86400, len(leaving)), unit="s"),
            }
        )
    )
    ledger = pd.concat(events, ignore_index=True)
    raw = spec_dict()
    raw["model"]["purpose"] = "bench"
    raw["columns"]["text"] = ["comment", "bio"]
    raw["columns"]["training_member"] = "in_training"
    raw["checks"] = {"privacy": {"consent": {"source": {"path": "consent.parquet"}, "grace_period": "1d"},
                                 "retention": "400d"}}  # fmt: skip
    spec = AuditSpec.model_validate(raw)
    data = AuditData(spec=spec, window_start=start, window_end=end, current=current, consent=ledger, now=end)
    return data, spec


def _median(fn: Any, repeats: int) -> tuple[float, float, Any]:
    """Median wall-clock and CPU seconds of ``repeats`` calls, and the last result."""
    walls, cpus, out = [], [], None
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline-repeats", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from ethics_audit.checks import privacy
    from ethics_audit.checks.privacy import pii

    data, spec = build(args.rows, args.seed)
    config = spec.checks.privacy
    entities = list(config.pii.entities)
    text_only = config.model_copy(update={"pii": config.pii.model_copy(update={"columns": []})})
    bio_only = config.model_copy(
        update={"pii": config.pii.model_copy(update={"columns": [], "exclude_columns": ["comment"]})}
    )
    privacy.run(config, data)  # warm up imports and caches
    family_s, family_cpu, results = _median(lambda: privacy.run(config, data), args.repeats)
    parts = {}
    for name, compute in privacy._parts():
        parts[name] = round(_median(lambda compute=compute: compute(config, data), args.repeats)[0], 3)
    text_s, text_cpu, text_results = _median(lambda: pii.run(text_only, data), args.repeats)
    bio_s, bio_cpu, bio_results = _median(lambda: pii.run(bio_only, data), args.repeats)
    strings = {c: data.current[c].tolist() for c in ("comment", "bio")}
    base_bio_s, base_bio_cpu, base_bio = _median(lambda: naive_pii(strings["bio"], entities), args.baseline_repeats)
    base_comment_s, base_comment_cpu, base_comment = _median(
        lambda: naive_pii(strings["comment"], entities), args.baseline_repeats
    )

    def ours(results: list[Any], column: str) -> dict[str, int]:
        found = next(r for r in results if r.metric == "pii_share" and r.slice == {"column": column})
        return {e: found.details["rows_by_type"].get(e, 0) for e in entities}

    agree = ours(bio_results, "bio") == base_bio and ours(text_results, "comment") == base_comment
    errors = [r.details for r in results if r.status.value == "error"]
    out = {
        "rows": args.rows,
        "repeats": args.repeats,
        "family_s": round(family_s, 3),
        "family_cpu_s": round(family_cpu, 3),
        "parts_s": parts,
        "family_results": len(results),
        "family_errors": errors,
        "pii_text_s": round(text_s, 3),
        "baseline_text_s": round(base_bio_s + base_comment_s, 3),
        "ratio_text": round((base_bio_s + base_comment_s) / text_s, 1),
        "ratio_text_cpu": round((base_bio_cpu + base_comment_cpu) / text_cpu, 1),
        "pii_bio_s": round(bio_s, 3),
        "baseline_bio_s": round(base_bio_s, 3),
        "ratio_bio": round(base_bio_s / bio_s, 1),
        "ratio_bio_cpu": round(base_bio_cpu / bio_cpu, 1),
        "bio_rows_by_entity": base_bio,
        "agree": agree,
    }
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
