"""The router compiled to C with mypyc, for the simulator.

The simulator pushes ~800,000 events through the router for a 1,000-agent day; the
router's Python (its per-call bookkeeping) is about half of that run's time. mypyc
compiles `routing/router.py` as it is -- the same source, so the same decisions, as
the tests check event for event -- into an extension module, `hotline_native_router`,
installed in the running interpreter's site-packages. The live server keeps the
Python router (its speed is far within its needs, and a Python traceback is easier
to read there); the simulator and the routing tests take the compiled one when it
is there and current.

    python -m routing.native build     # make native (make venv/test/bench run it)
    python -m routing.native status

`HOTLINE_ROUTER` chooses: `auto` (default: compiled if built from the current
router.py, else Python), `python`, or `native` (compiled, or an error saying why not).
A build from other sources is never used: the module carries the SHA-256 of the
sources it was built from (router.py and the project modules whose types mypyc
compiled it against: the events, routing.model, routing.rules...), compared with
theirs at import. The machinery (digest, build, check) is config/native_build.py's,
shared with the compiled AMI codec (cti/ami_native.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from config.native_build import CHOICES as CHOICES  # re-exported: callers and tests read them here
from config.native_build import ROOT as ROOT
from config.native_build import NativeBuildError, NativeModule
from config.native_build import main as native_main

if TYPE_CHECKING:
    from routing.router import Router

MODULE = "hotline_native_router"
SOURCE = Path(__file__).resolve().with_name("router.py")
# router.py and what it is type-checked and compiled against (its project imports)
DEPENDS = tuple(
    ROOT / p
    for p in (
        "routing/router.py",
        "routing/model.py",
        "routing/capacity.py",
        "routing/rules.py",
        "routing/expr.py",
        "routing/tomlpos.py",
        "events/__init__.py",
    )
)
NATIVE = NativeModule(name=MODULE, source=SOURCE, depends=DEPENDS, noun="router", env="HOTLINE_ROUTER")

NativeRouterError = NativeBuildError  # the name callers catch


def source_digest() -> str:
    return NATIVE.source_digest()


def _load_native() -> tuple[type[Router] | None, str]:
    """(the compiled Router class, "") or (None, why not).

    The compiled module is built on this machine and has no stubs: it is imported by
    name and its Router typed as routing.router.Router, the class mypyc compiled it
    from (the digest checked says it was this source). Same interface, but not a
    subclass: never isinstance-check a router against routing.router.Router."""
    mod, why = NATIVE.load(source_digest())
    if mod is None:
        return None, why
    compiled: type[Router] = mod.Router
    return compiled, ""


def router_class(choice: str | None = None) -> type[Router]:
    """The Router class to use: see the module docstring for `choice`
    (default: the HOTLINE_ROUTER environment variable, else auto)."""
    from routing.router import Router

    choice = NATIVE.choice(choice)
    if choice == "python":
        return Router
    native, why = _load_native()
    if native is not None:
        return native
    if choice == "native":
        raise NativeRouterError(f"compiled router: {why}")
    return Router


def is_native(router_cls: type[object]) -> bool:
    return getattr(router_cls, "__module__", "") == MODULE


def build(quiet: bool = True) -> Path:
    """Compile router.py with mypyc into site-packages; returns the module's path."""
    return NATIVE.build(quiet)


def main(argv: list[str] | None = None) -> int:
    return native_main(NATIVE, "routing.native", lambda: is_native(router_class()), argv)


if __name__ == "__main__":
    raise SystemExit(main())
