"""A realistic, seeded customer base for the demo, the tests and the benchmarks.

Faker supplies pools of names and companies once; rows are then combined with a
seeded `random.Random`, which keeps a million customers fast to generate.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from faker import Faker

from store.models import Customer, Interaction, User

TIERS = (("standard", 0.70), ("gold", 0.22), ("vip", 0.08))
DISPOSITIONS = ("resolved", "follow-up", "escalated", "sale", "no-sale", "callback", "wrong-number")
QUEUES = ("billing", "support", "sales")
AREA_CODES = ("212", "312", "415", "512", "617", "702", "206", "305", "404", "503")
NOTES = (
    "asked about the last invoice",
    "router replaced under warranty",
    "upgraded to the premium plan",
    "disputed a late fee, refunded",
    "wants a call back after 5 pm",
    "moving house next month",
    "",
)


@dataclass(frozen=True, slots=True)
class _Pools:
    first: list[str]
    last: list[str]
    companies: list[str]


def _pools(seed: int) -> _Pools:
    fake = Faker("en_US")
    fake.seed_instance(seed)
    return _Pools(
        first=sorted({fake.first_name() for _ in range(600)}),
        last=sorted({fake.last_name() for _ in range(600)}),
        companies=sorted({fake.company() for _ in range(400)}),
    )


def customer_phone(index: int) -> str:
    """The i-th customer's main number: unique and valid-looking (NXX-XXXX, area codes above)."""
    area = AREA_CODES[index % len(AREA_CODES)]
    rest = index // len(AREA_CODES)
    exchange = 200 + (rest // 10_000) % 800
    return f"+1{area}{exchange:03d}{rest % 10_000:04d}"


def generate_customers(count: int, seed: int = 7) -> Iterator[Customer]:
    rng = random.Random(seed)
    pools = _pools(seed)
    tiers = [t for t, _ in TIERS]
    weights = [w for _, w in TIERS]
    for i in range(count):
        first, last = rng.choice(pools.first), rng.choice(pools.last)
        business = rng.random() < 0.4
        phones = [customer_phone(i)]
        if rng.random() < 0.25:
            phones.append(customer_phone(count + i))
        yield Customer(
            id=f"C{i:07d}",
            name=f"{first} {last}",
            company=rng.choice(pools.companies) if business else "",
            tier=rng.choices(tiers, weights)[0],
            phones=tuple(phones),
            email=f"{first}.{last}{i}@example.com".lower(),
            account_number=f"{10_000_000 + i}",
            attributes={"balance_cents": rng.randrange(0, 500_000), "language": rng.choice(["en", "en", "en", "es"])},
            notes=rng.choice(NOTES),
        )


def generate_interactions(
    customers: list[Customer], now: float, seed: int = 7, per_customer: int = 3
) -> Iterator[Interaction]:
    """Past calls over the last 90 days, each with a disposition and notes."""
    rng = random.Random(seed + 1)
    for c in customers:
        for k in range(rng.randint(0, per_customer)):
            started = now - rng.uniform(3600, 90 * 86400)
            answered = rng.random() < 0.9
            wait = rng.expovariate(1 / 25)
            talk = rng.lognormvariate(5.0, 0.6)
            yield Interaction(
                id=f"H-{c.id}-{k}",
                direction="inbound" if rng.random() < 0.8 else "outbound",
                queue=rng.choice(QUEUES),
                agent_id=f"agent{rng.randint(1, 12):02d}" if answered else "",
                customer_id=c.id,
                caller=c.phones[0],
                started_at=started,
                answered_at=started + wait if answered else None,
                ended_at=started + wait + (talk if answered else 0.0),
                outcome="answered" if answered else "abandoned",
                disposition=rng.choice(DISPOSITIONS) if answered else "",
                notes=rng.choice(NOTES) if answered else "",
            )


def demo_agents(count: int = 12, seed: int = 7) -> list[User]:
    """Agents with skills and proficiencies, endpoints matching the recorded dialplan."""
    rng = random.Random(seed + 2)
    pools = _pools(seed)
    agents = []
    for i in range(1, count + 1):
        skills = {q: rng.randint(3, 10) for q in QUEUES if rng.random() < 0.7} or {"support": 5}
        agents.append(
            User(
                login=f"agent{i:02d}",
                display_name=f"{rng.choice(pools.first)} {rng.choice(pools.last)}",
                role="agent",
                team="team-a" if i % 2 else "team-b",
                skills=skills,
                languages=("en", "es") if i % 4 == 0 else ("en",),
                phone_endpoint=f"Local/{2000 + i}@agents",
            )
        )
    return agents
