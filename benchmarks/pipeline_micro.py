"""CPU per event of the receiver's per-event pipeline, stage by stage (not part of `make bench`).

    python -m benchmarks.pipeline_micro [--traffic receiver|mixed|cold|all] [--events 2000] [--repeat 7] [--cprofile]

Item 2 of docs/benchmarks.md is CPU-bound on one core; this times, in one process and without
HTTP, the calls the receiver makes per request on the public functions themselves: the body
parse, `validate_batch`, `normalize_event` (whose user_data and custom_data parts are also timed
alone: `normalize_user_data`, `strip_pii`), `process()` (validation + normalization + records)
and `encode_records` of the resulting records with the writer's envelope fields. CPU time
(`time.process_time`) per event, median of `--repeat` repetitions, each over the same events:
the machines are shared, so wall time would measure the neighbours.

Traffic `receiver` is exactly what `benchmarks/receiver_traffic.py` sends in item 2 (500-event
batches). `mixed` widens it: phones as E.164, national with a country, with dots, trunk zeros and
extensions, accented and decomposed names, non-US events, already-hashed values, fbc, and
custom_data with `contents` and a personal data key to strip. `cold` is `receiver` with a
distinct first name, last name, city, state and ZIP in every event, so the memoised digests of
user_data_normalization.py never help: the worst case for them.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import random
import statistics
import time
import unicodedata
from collections.abc import Callable
from datetime import date
from typing import Any

import orjson

from benchmarks.receiver_traffic import raw_event
from source_meta_capi.capi import custom_data_privacy, field_normalizers, phone_normalization, user_data_normalization
from source_meta_capi.capi.custom_data_privacy import strip_pii
from source_meta_capi.capi.event_normalization import normalize_event
from source_meta_capi.capi.event_validation import validate_batch
from source_meta_capi.capi.user_data_normalization import normalize_user_data, sha256_hex
from source_meta_capi.receiver.pipeline import RequestContext, new_batch_id, process
from source_meta_capi.staging.keys import ObjectKind
from source_meta_capi.staging.records import CURSOR_FIELD, SCHEMA_VERSION, encode_records

NOW = 1_764_150_000
TODAY = date(2025, 11, 26)
BATCH = 500
CONTEXT = RequestContext("1234567890123456", "req-bench", new_batch_id(), "verified")
ARRIVAL = "2025-11-26T09:00:00.000000Z"

_NATIONAL = (
    ("GB", "020 7946 {:04d}"),
    ("DE", "030 1234{:04d}"),
    ("FR", "06 12 34 {:02d} {:02d}"),
    ("RO", "0722 123 {:03d}"),
    ("US", "(650) 555-{:04d}"),
    ("US", "650.555.{:04d}"),
    ("BR", "(11) 91234-{:04d}"),
)
_COUNTRY_NAMES = {"GB": "United Kingdom", "DE": "Germany", "FR": "France", "RO": "RO", "US": "us", "BR": "Brazil"}


def mixed_event(rng: random.Random, index: int) -> dict[str, Any]:
    """A receiver_traffic event widened to the formats real senders mix (see the module docstring)."""
    event = raw_event(rng, "micro", index, NOW)
    user = event["user_data"]
    shape = index % 6
    number = rng.randrange(10_000)
    if shape == 0:
        user["ph"] = f"+1415{rng.randrange(2_000_000, 9_999_999)}"
    elif shape == 1:
        user["ph"] = f"+44 (0)20 7946 {number:04d}"
    elif shape == 2:
        country, pattern = rng.choice(_NATIONAL)
        digits = [number // 100, number % 100] if pattern.count("{") == 2 else [number % 10 ** pattern.count("0")]
        user["ph"] = pattern.format(*digits)
        user["country"] = _COUNTRY_NAMES[country]
        user["st"] = "Île-de-France" if country == "FR" else user["st"]
        user["zp"] = "M1 1AE" if country == "GB" else user["zp"]
    elif shape == 3:
        user["ph"] = [user["ph"], f"+1 415 555 {number:04d} ext. 12"]
        user["fn"] = unicodedata.normalize("NFD", "Zoë Anaïs")
        user["ln"] = "O'Brien-Smith"
    elif shape == 4:
        user["em"] = sha256_hex(user["em"].strip().lower()).upper()
        user["ph"] = int(f"1650555{number:04d}")
        user["ge"] = "Female"
        user["db"] = "2/16/1997"
    else:
        user["ct"] = "São Paulo"
        user["st"] = "SP"
        user["country"] = "BR"
        user["ph"] = f"11 9{rng.randrange(1000, 9999)}-{number:04d}"
        user["zp"] = "01310-100"
    user["fbc"] = f"fb.1.{NOW * 1000}.IwAR2F4-dbP0l7Mn1IawQQGCINEz7PYX{index}"
    event["custom_data"] = {
        "currency": "EUR" if shape % 2 else "USD",
        "value": round(rng.uniform(5, 400), 2),
        "content_type": "product",
        "content_ids": [f"SKU-{rng.randrange(1000)}", f"SKU-{rng.randrange(1000)}"],
        "contents": [
            {
                "id": f"SKU-{rng.randrange(1000)}",
                "quantity": 1,
                "item_price": 12.5,
                "delivery_category": "home_delivery",
            },
            {"id": f"SKU-{rng.randrange(1000)}", "quantity": 2, "item_price": 3.25, "brand": "Acme"},
        ],
        "num_items": 3,
        "order_id": f"order-{index}",
    }
    if shape == 5:
        event["custom_data"]["billing_email"] = "someone@example.com"
    return event


def cold_event(rng: random.Random, index: int) -> dict[str, Any]:
    """A receiver_traffic event whose names and places appear in no other event."""
    event = raw_event(rng, "micro", index, NOW)
    tag = "".join(chr(ord("a") + (index // 26**power) % 26) for power in range(4))
    user = event["user_data"]
    for key in ("fn", "ln", "ct", "st"):
        user[key] = f"{user[key]} {tag.capitalize()}"
    user["zp"] = f"{index % 100_000:05d}"
    return event


def build_bodies(traffic: str, events: int, seed: int) -> list[bytes]:
    """Request bodies of BATCH events each, as the receiver gets them (raw bytes)."""
    rng = random.Random(seed)
    build: Callable[[int], dict[str, Any]]
    if traffic == "receiver":

        def build(index: int) -> dict[str, Any]:
            return raw_event(rng, "micro", index, NOW)

    elif traffic == "cold":

        def build(index: int) -> dict[str, Any]:
            return cold_event(rng, index)

    else:

        def build(index: int) -> dict[str, Any]:
            return mixed_event(rng, index)

    all_events = [build(index) for index in range(events)]
    return [orjson.dumps({"data": all_events[start : start + BATCH]}) for start in range(0, events, BATCH)]


def _stamped(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # The envelope StagingWriter.commit adds before it encodes (cursor field and schema version).
    cursor = CURSOR_FIELD[ObjectKind.EVENTS]
    return [{**record, cursor: ARRIVAL, "schema_version": SCHEMA_VERSION} for record in records]


def stages(bodies: list[bytes]) -> dict[str, Callable[[], object]]:
    """Each stage as a zero-argument callable over all bodies; inputs are prepared outside."""
    parsed = [orjson.loads(body) for body in bodies]
    events = [event for body in parsed for event in body["data"]]
    for body in parsed:
        rejected = validate_batch(body, NOW).rejections
        if rejected:
            raise SystemExit(f"benchmark events must all be valid, got {rejected[0]}")
    user_datas = [event["user_data"] for event in events]
    custom_datas = [event["custom_data"] for event in events]
    records = [[a.record for a in process(body, CONTEXT, NOW, today=TODAY).accepted] for body in parsed]

    def parse() -> object:
        return [orjson.loads(body) for body in bodies]

    def validate() -> object:
        return [validate_batch(body, NOW) for body in parsed]

    def user_data() -> object:
        return [normalize_user_data(raw, None, TODAY) for raw in user_datas]

    def custom_data() -> object:
        return [strip_pii(raw) for raw in custom_datas]

    def normalize() -> object:
        return [normalize_event(event, None, TODAY) for event in events]

    def process_all() -> object:
        return [process(body, CONTEXT, NOW, today=TODAY) for body in parsed]

    def encode() -> object:
        return [encode_records(_stamped(batch)) for batch in records]

    return {
        "parse (orjson.loads)": parse,
        "validate_batch": validate,
        "normalize_user_data": user_data,
        "strip_pii": custom_data,
        "normalize_event (all)": normalize,
        "process()": process_all,
        "encode_records (gzip)": encode,
    }


def clear_caches() -> None:
    """Forget the memoised digests and verdicts, so each repetition starts as a fresh process.

    Without this every repetition after the first would find all of its values cached; with it,
    only values repeated within the measured events are (as in a stream of requests).
    """
    for module, names in (
        (user_data_normalization, ("_cached_hash_one",)),
        (phone_normalization, ("_cached_e164",)),
        (field_normalizers, ("_cached_alpha_2",)),
        (custom_data_privacy, ("_cached_verdict",)),
    ):
        for name in names:
            cache = getattr(module, name, None)  # absent before these caches existed
            if cache is not None:
                cache.cache_clear()


def measure(run: Callable[[], object], events: int, repeat: int) -> list[float]:
    """CPU µs per event of each repetition (one untimed warm-up first)."""
    clear_caches()
    run()
    samples = []
    for _ in range(repeat):
        clear_caches()
        gc.collect()
        start = time.process_time()
        run()
        samples.append((time.process_time() - start) * 1e6 / events)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traffic", choices=("receiver", "mixed", "cold", "all"), default="all")
    parser.add_argument("--events", type=int, default=2000, help="events per repetition (multiple of 500)")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cprofile", action="store_true", help="also print cProfile's top functions of process()")
    args = parser.parse_args()
    for traffic in ("receiver", "mixed", "cold") if args.traffic == "all" else (args.traffic,):
        bodies = build_bodies(traffic, args.events, args.seed)
        print(f"traffic={traffic}: {args.events} events in {len(bodies)} bodies of {BATCH}, CPU µs/event")
        print(f"  {'stage':<30} {'median':>8} {'min':>8} {'max':>8}")
        medians: dict[str, float] = {}
        for name, run in stages(bodies).items():
            samples = measure(run, args.events, args.repeat)
            medians[name] = statistics.median(samples)
            print(f"  {name:<30} {medians[name]:>8.1f} {min(samples):>8.1f} {max(samples):>8.1f}")
        total = medians["parse (orjson.loads)"] + medians["process()"] + medians["encode_records (gzip)"]
        print(f"  {'all-in: parse+process+encode':<30} {total:>8.1f}  (~{1e6 / total:,.0f} events/s on one core)")
        if args.cprofile:
            parsed = [orjson.loads(body) for body in bodies]
            profile = cProfile.Profile()
            profile.enable()
            for body in parsed:
                process(body, CONTEXT, NOW, today=TODAY)
            profile.disable()
            pstats.Stats(profile).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
