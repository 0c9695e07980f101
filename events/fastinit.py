"""A cheaper `__init__` for the frozen, slotted dataclasses built on every simulated
call (domain events, routing decisions).

Why: the `__init__` dataclasses generates for a frozen class stores each field with
`object.__setattr__(self, name, value)`, two type look-ups and a wrapper call per
field. The simulator builds ~9 events and decisions per call (~45 fields), and that
was 13% of a 1,000-agent day (bench/bench_sim.py: 31.7 -> 27.6 CPU us per call,
median of 5; issue 13 item 6 asks for the figures). This `__init__` calls each
slot's member descriptor directly instead. It is generated from the fields the way
dataclasses generates its own (source text compiled once per class, at import):
same signature, names, defaults and fresh default_factory values; only `__init__` is
replaced, so assignment still raises FrozenInstanceError and eq, hash, repr, replace
and pickling are the dataclass's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

_T = TypeVar("_T", bound=type)


class _Factory:
    """The default shown for a default_factory field (as dataclasses shows it)."""

    def __repr__(self) -> str:
        return "<factory>"


_NO_ARG = _Factory()


def fast_init(cls: _T) -> _T:
    """Give the frozen, slotted dataclass `cls` the cheaper `__init__`; returns it."""
    params = cls.__dataclass_params__  # type: ignore[attr-defined]
    if not (params.frozen and params.init) or "__slots__" not in cls.__dict__ or hasattr(cls, "__post_init__"):
        raise TypeError(f"fast_init needs a frozen, slotted dataclass without __post_init__: {cls.__name__}")
    ns: dict[str, Any] = {"_NO_ARG": _NO_ARG}
    args: list[str] = []
    body: list[str] = []
    for f in dataclasses.fields(cls):
        if not f.init or f.kw_only:
            raise TypeError(f"fast_init: {cls.__name__}.{f.name} must be a plain positional field")
        name = f.name
        ns[f"_set_{name}"] = cls.__dict__[name].__set__  # the slot's member descriptor
        if f.default is not dataclasses.MISSING:
            ns[f"_default_{name}"] = f.default
            args.append(f"{name}=_default_{name}")
        elif f.default_factory is not dataclasses.MISSING:
            ns[f"_factory_{name}"] = f.default_factory
            args.append(f"{name}=_NO_ARG")
            body.append(f"    if {name} is _NO_ARG:\n        {name} = _factory_{name}()")
        else:
            args.append(name)
        body.append(f"    _set_{name}(self, {name})")
    src = f"def __init__(self, {', '.join(args)}) -> None:\n" + ("\n".join(body) or "    pass") + "\n"
    exec(src, ns)  # as dataclasses builds its own __init__; the names above are the fields'
    init: Callable[..., None] = ns["__init__"]
    generated = cls.__dict__["__init__"]  # the dataclass's own
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__annotations__ = dict(generated.__annotations__)
    init.__doc__ = generated.__doc__
    cls.__init__ = init  # type: ignore[misc]
    return cls
