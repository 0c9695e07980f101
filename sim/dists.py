"""Random distributions for the simulator (patience, handle time, wrap-up, ring time),
built from validated scenario tables and sampled from a `random.Random` passed in.

Table forms (times in seconds):
    { dist = "constant",    value_s = 10 }
    { dist = "exponential", mean_s = 180 }
    { dist = "lognormal",   mean_s = 300, sigma = 0.8 }        (sigma of the log)
    { dist = "uniform",     low_s = 5, high_s = 20 }
    { dist = "empirical",   values_s = [12, 40, 95, ...] }     (resampled uniformly)
    { dist = "none" }   (infinite: a caller who never abandons)
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any


class ScenarioError(ValueError):
    """A scenario problem: message is 'file: key.path: reason'."""


@dataclass(frozen=True, slots=True)
class Dist:
    kind: str
    a: float = 0.0
    b: float = 0.0
    values: tuple[float, ...] = ()

    def sample(self, rng: random.Random) -> float:
        k = self.kind
        if k == "exponential":
            return rng.expovariate(self.a)
        if k == "constant":
            return self.a
        if k == "lognormal":
            return rng.lognormvariate(self.a, self.b)
        if k == "uniform":
            return rng.uniform(self.a, self.b)
        if k == "empirical":
            return self.values[int(rng.random() * len(self.values))]
        return math.inf  # none

    def sampler(self, rng: random.Random) -> Callable[[], float]:
        """`lambda: self.sample(rng)`, bound once: the same draws from the same stream
        without the dispatch on kind at every draw (the simulator draws ~5 times per call)."""
        k = self.kind
        if k == "exponential":
            return partial(rng.expovariate, self.a)
        if k == "lognormal":
            return partial(rng.lognormvariate, self.a, self.b)
        if k == "uniform":
            return partial(rng.uniform, self.a, self.b)
        if k == "empirical":
            values, n, rand = self.values, len(self.values), rng.random
            return lambda: values[int(rand() * n)]
        value = self.a if k == "constant" else math.inf
        return lambda: value

    @property
    def mean(self) -> float:
        k = self.kind
        if k == "exponential":
            return 1.0 / self.a
        if k == "constant":
            return self.a
        if k == "lognormal":
            return math.exp(self.a + self.b * self.b / 2.0)
        if k == "uniform":
            return (self.a + self.b) / 2.0
        if k == "empirical":
            return sum(self.values) / len(self.values)
        return math.inf

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"dist": self.kind}
        if self.kind != "none":
            d["mean_s"] = self.mean
        if self.kind == "lognormal":
            d["sigma"] = self.b
        if self.kind == "empirical":
            d["n"] = len(self.values)
        return d


def exponential(mean_s: float) -> Dist:
    return Dist("exponential", 1.0 / mean_s)


def constant(value_s: float) -> Dist:
    return Dist("constant", value_s)


NONE = Dist("none")


def _num(table: Mapping[str, Any], key: str, where: str, positive: bool = True) -> float:
    if key not in table:
        raise ScenarioError(f"{where}.{key}: missing")
    v = table[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v):
        raise ScenarioError(f"{where}.{key}: must be a number, got {v!r}")
    if positive and not v > 0:
        raise ScenarioError(f"{where}.{key}: must be > 0, got {v!r}")
    if not positive and v < 0:
        raise ScenarioError(f"{where}.{key}: must be >= 0, got {v!r}")
    return float(v)


def parse_dist(value: Any, where: str) -> Dist:
    """A Dist from its table (a bare number means exponential with that mean)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not value > 0:
            raise ScenarioError(f"{where}: must be > 0, got {value!r}")
        return exponential(float(value))
    if not isinstance(value, Mapping):
        raise ScenarioError(f'{where}: must be a table like {{ dist = "exponential", mean_s = 180 }}')
    kind = value.get("dist")
    known = {"constant": {"value_s"}, "exponential": {"mean_s"}, "lognormal": {"mean_s", "sigma"},
             "uniform": {"low_s", "high_s"}, "empirical": {"values_s"}, "none": set()}  # fmt: skip
    if kind not in known:
        raise ScenarioError(f"{where}.dist: must be one of {', '.join(known)}, got {kind!r}")
    extra = set(value) - known[kind] - {"dist"}
    if extra:
        raise ScenarioError(f"{where}: unknown key(s) for {kind}: {', '.join(sorted(extra))}")
    if kind == "constant":
        return constant(_num(value, "value_s", where, positive=False))
    if kind == "exponential":
        return exponential(_num(value, "mean_s", where))
    if kind == "lognormal":
        mean = _num(value, "mean_s", where)
        sigma = _num(value, "sigma", where, positive=False)
        return Dist("lognormal", math.log(mean) - sigma * sigma / 2.0, sigma)
    if kind == "uniform":
        lo, hi = _num(value, "low_s", where, False), _num(value, "high_s", where, False)
        if hi < lo:
            raise ScenarioError(f"{where}.high_s: must be >= low_s")
        return Dist("uniform", lo, hi)
    if kind == "empirical":
        vals = value.get("values_s")
        if not isinstance(vals, Sequence) or not vals:
            raise ScenarioError(f"{where}.values_s: must be a non-empty list of seconds")
        for i, v in enumerate(vals):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise ScenarioError(f"{where}.values_s[{i}]: must be a number >= 0, got {v!r}")
        return empirical(vals)
    return NONE


def empirical(values: Sequence[float]) -> Dist:
    if not values:
        raise ValueError("empirical distribution needs at least one value")
    return Dist("empirical", values=tuple(float(v) for v in values))
