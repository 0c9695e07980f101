"""The IVR flow as the admin edits it: TOML text with the `[ivr]` tables of hotline.toml
(copied to and from the file as is), validated with each problem at its line, and
simulated with sample inputs (the path taken and the attributes set) by the same
engine the live IVR runs.
"""

from __future__ import annotations

import re
import time
import tomllib
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from config.loader import ConfigError, parse
from config.toml_text import dumps
from ivr.agi_driver import CustomerLookup
from ivr.engine import Collect, Lookup, Stepped, run
from ivr.flow import IvrFlow

FILENAME = "ivr.toml"
TEXT_MAX_CHARS = 256 * 1024
_AT_LINE = re.compile(rf"^{re.escape(FILENAME)}:(\d+): (.*)$")


def flow_text(flow: IvrFlow | None) -> str:
    """A flow as the editor shows it ("" for none): what `flow_of` reads back equal."""
    return dumps({"ivr": flow.model_dump(mode="json", exclude_defaults=True)}) if flow is not None else ""


def _problem(message: str, line: int | None = None) -> dict[str, Any]:
    return {"line": line, "message": message}


def check(text: str) -> tuple[IvrFlow | None, list[dict[str, Any]]]:
    """The flow, or the problems: each {"line", "message"} (line None: the whole text)."""
    if len(text) > TEXT_MAX_CHARS:
        return None, [_problem(f"longer than {TEXT_MAX_CHARS} characters")]
    if not text.strip():
        return None, [_problem("empty: an IVR flow is an [ivr] table with a start node and nodes")]
    try:
        top = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        top = None  # the loader below says where
    if top is not None:
        others = sorted(set(top) - {"ivr"})
        if others:
            return None, [_problem(f"{', '.join(others)}: only the [ivr] tables belong here")]
        if "ivr" not in top:
            return None, [_problem("no [ivr] table")]
    try:
        config = parse(text, FILENAME)
    except ConfigError as exc:
        problems = []
        for p in exc.problems:
            m = _AT_LINE.match(p)
            problems.append(_problem(m.group(2), int(m.group(1))) if m else _problem(p.removeprefix(f"{FILENAME}: ")))
        return None, problems
    return config.ivr, []


def problems_of(text: str) -> list[dict[str, Any]]:
    return check(text)[1]


async def simulate(
    flow: IvrFlow, lookup: CustomerLookup, caller: str, digits: Sequence[str], at: float | None = None
) -> dict[str, Any]:
    """Walk `flow` for a call from `caller` at `at` (epoch; now by default), each digit
    collection answered by the next of `digits` ("" once they run out: a timeout),
    lookups by the real customer directory. The steps, the prompts played, the outcome."""
    engine = run(flow, caller, time.time() if at is None else at)
    answers = list(digits)
    steps: list[dict[str, str]] = []
    prompts: list[str] = []
    result: Any = None
    try:
        command = next(engine)
        while True:
            result = None
            if isinstance(command, Collect):
                prompts.append(command.prompt)
                result = answers.pop(0) if answers else ""
            elif isinstance(command, Lookup):
                result = await lookup(command.by, command.value)
            elif isinstance(command, Stepped):
                steps.append({"node": command.node, "result": command.result})
            elif hasattr(command, "prompt"):
                prompts.append(command.prompt)
            command = engine.send(result)
    except StopIteration as stop:
        outcome = asdict(stop.value)
    return {"steps": steps, "prompts": prompts, "outcome": outcome, "unused_digits": answers}
