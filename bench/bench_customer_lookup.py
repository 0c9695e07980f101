"""Customer lookup by phone number over 1,000,000 customers on PostgreSQL (p50/p99 us).

Target (Foundation issue): p99 under 2 ms. Loads the demo generator's customers into a
fresh database (bulk COPY), then times `Store.find_customers_by_phone` end to end
(normalisation + query + decoding) on random existing and missing numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import time
import uuid
from pathlib import Path

import asyncpg

from config.demo_data import customer_phone, generate_customers
from config.schema import StoreConfig
from store import open_store

ADMIN = os.environ.get("HOTLINE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
RESULTS = Path(__file__).parent / "results"


async def bulk_load(url: str, count: int) -> float:
    started = time.perf_counter()
    conn = await asyncpg.connect(url)
    try:
        batch: list[tuple] = []
        phones: list[tuple] = []

        async def flush() -> None:
            await conn.copy_records_to_table(
                "customers",
                records=batch,
                columns=["id", "name", "company", "tier", "email", "account_number", "phones", "attributes", "notes"],
            )
            await conn.copy_records_to_table(
                "customer_phones", records=phones, columns=["phone", "customer_id", "position"]
            )
            batch.clear()
            phones.clear()

        for c in generate_customers(count):
            batch.append(
                (
                    c.id,
                    c.name,
                    c.company,
                    c.tier,
                    c.email,
                    c.account_number,
                    json.dumps(list(c.phones)),
                    json.dumps(c.attributes),
                    c.notes,
                )
            )
            phones.extend((p, c.id, i) for i, p in enumerate(c.phones))
            if len(batch) >= 50_000:
                await flush()
        if batch:
            await flush()
        # What autovacuum does soon after a bulk load: statistics and the visibility map
        # (index-only scans of the phone index).
        await conn.execute("VACUUM (ANALYZE) customers")
        await conn.execute("VACUUM (ANALYZE) customer_phones")
    finally:
        await conn.close()
    return time.perf_counter() - started


async def main(count: int, lookups: int) -> dict:
    name = f"hotline_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN.rpartition("/")[0] + "/" + name
    try:
        store = await open_store(StoreConfig(url=url, pool_min=1, pool_max=2))
        await store.migrate()
        load_s = await bulk_load(url, count)
        rng = random.Random(1)
        numbers = [customer_phone(rng.randrange(count)) for _ in range(lookups)]
        numbers += [customer_phone(count * 3 + i) for i in range(lookups // 10)]  # misses
        rng.shuffle(numbers)
        for n in numbers[:500]:  # warm-up: pool, statement cache, buffer cache
            await store.find_customers_by_phone(n)
        samples = []
        hits = 0
        for n in numbers:
            t0 = time.perf_counter_ns()
            found = await store.find_customers_by_phone(n)
            samples.append((time.perf_counter_ns() - t0) / 1000)
            hits += bool(found)
        await store.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    samples.sort()
    q = statistics.quantiles(samples, n=100)
    return {
        "benchmark": "customer_lookup_by_phone",
        "store": "postgresql",
        "customers": count,
        "lookups": len(samples),
        "hits": hits,
        "load_s": round(load_s, 2),
        "p50_us": round(q[49], 1),
        "p99_us": round(q[98], 1),
        "max_us": round(samples[-1], 1),
        "target_p99_us": 2000,
        "meets_target": q[98] < 2000,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=20_000)
    parser.add_argument("--quick", action="store_true", help="10,000 customers, 2,000 lookups")
    args = parser.parse_args()
    if args.quick:
        args.customers, args.lookups = 10_000, 2_000
    result = asyncio.run(main(args.customers, args.lookups))
    print(
        f"customer lookup by phone, PostgreSQL, {result['customers']:,} customers: "
        f"p50 {result['p50_us']} us, p99 {result['p99_us']} us, max {result['max_us']} us "
        f"({result['hits']}/{result['lookups']} hits; load {result['load_s']} s) "
        f"target p99 < 2000 us: {'met' if result['meets_target'] else 'MISSED'}"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "customer_lookup.json").write_text(json.dumps(result, indent=2) + "\n")
