"""The ACD router: a pure, synchronous, deterministic core (no asyncio, no I/O).

    from routing import Router, load_rules, AgentProfile, Tick
    rules = load_rules(open("routing.toml").read(), "routing.toml")   # raises RuleError
    router = Router(rules, seed=0)
    router.add_agent(AgentProfile("a1", skills={"billing": 7}, languages=("en",)))
    decisions = router.handle(event, now)        # domain events from `events`, or Tick(now)
    router.next_deadline()                       # when to Tick next
    router.swap_rules(load_rules(new_text))      # live change; waiting calls re-evaluated
    router.snapshot()                            # wallboard counts

Also: router.agent_state(id), router.agent_info(id), router.wrap_up_of(id), router.call_info(id),
router.waiting_call_ids(), router.rules, router.rules_version.
Config check: validate_config_section(data, source_text, filename) -> list[str].

See routing/router.py for the event lifecycle (including events.CallRejected),
routing/rules.py for the rule file shape, routing/expr.py for the expression
language, config/examples/routing.toml for every feature, and routing/benchmark.py
(`hotline bench router`, bench/bench_router.py) for the speed figures.
"""

from routing.expr import Compiled, ExprError, compile_expr
from routing.model import AgentProfile, Decision, Escalated, FinalStep, Offer, Overflowed, Tick
from routing.router import Router
from routing.rules import (
    Problem,
    QueueRules,
    RuleError,
    RuleSet,
    Target,
    load_rules,
    rules_from_data,
    validate_config_section,
)

__all__ = [
    "AgentProfile",
    "Compiled",
    "Decision",
    "Escalated",
    "ExprError",
    "FinalStep",
    "Offer",
    "Overflowed",
    "Problem",
    "QueueRules",
    "Router",
    "RuleError",
    "RuleSet",
    "Target",
    "Tick",
    "compile_expr",
    "load_rules",
    "rules_from_data",
    "validate_config_section",
]
