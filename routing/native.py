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
theirs at import.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import os
import shutil
import sys
import sysconfig
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from routing.router import Router

MODULE = "hotline_native_router"
SOURCE = Path(__file__).resolve().with_name("router.py")
ROOT = SOURCE.parent.parent
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
CHOICES = ("auto", "python", "native")


_T = TypeVar("_T")


class NativeRouterError(RuntimeError):
    pass


def source_digest() -> str:
    h = hashlib.sha256()
    for path in DEPENDS:
        h.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def _load_native() -> tuple[type[Router] | None, str]:
    """(the compiled Router class, "") or (None, why not).

    The compiled module is built on this machine and has no stubs: it is imported by
    name and its Router typed as routing.router.Router, the class mypyc compiled it
    from (the digest checked below says it was this source). Same interface, but not a
    subclass: never isinstance-check a router against routing.router.Router."""
    try:
        mod = importlib.import_module(MODULE)
    except ImportError as exc:
        return None, f"not built ({exc}); run `make native`"
    built_from = getattr(mod, "SOURCE_SHA256", "")
    if built_from != source_digest():
        return (
            None,
            f"built from other sources than routing/router.py and its imports now ({mod.__file__}); run `make native`",
        )
    compiled: type[Router] = mod.Router
    return compiled, ""


def router_class(choice: str | None = None) -> type[Router]:
    """The Router class to use: see the module docstring for `choice`
    (default: the HOTLINE_ROUTER environment variable, else auto)."""
    from routing.router import Router

    choice = (choice or os.environ.get("HOTLINE_ROUTER") or "auto").strip().lower()
    if choice not in CHOICES:
        raise NativeRouterError(f"HOTLINE_ROUTER={choice!r}: must be one of {', '.join(CHOICES)}")
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
    """Compile router.py with mypyc into site-packages; returns the module's path.
    mypyc type-checks the module first: a type error fails the build (and says where)."""
    try:
        from mypyc.build import mypycify
        from setuptools import Distribution
    except ImportError as exc:  # pragma: no cover - the test extras install both
        raise NativeRouterError(f"cannot build the compiled router: {exc} (pip install mypy setuptools)") from exc
    dest = Path(sysconfig.get_paths()["platlib"])
    work = Path(tempfile.mkdtemp(prefix="hotline-native-"))
    digest = source_digest()
    try:
        src = work / f"{MODULE}.py"
        src.write_text(SOURCE.read_text() + f'\n\nSOURCE_SHA256 = "{digest}"  # what routing.native checks\n')
        cwd = os.getcwd()
        os.chdir(work)  # mypyc names the module after the file's path from here
        saved_path = os.environ.get("MYPYPATH")
        os.environ["MYPYPATH"] = str(ROOT)  # routing.model, routing.rules, events
        try:
            exts = mypycify([src.name], opt_level="3", target_dir=str(work / "c"))
            dist = Distribution({"name": MODULE, "ext_modules": exts})
            dist.script_args = ["-q", "build_ext", "--build-lib", str(work / "lib"), "--build-temp", str(work / "tmp")]
            dist.parse_command_line()  # type: ignore[no-untyped-call]  # setuptools does not annotate it
            if quiet:
                _quiet(dist.run_commands)
            else:
                dist.run_commands()
        finally:
            os.chdir(cwd)
            if saved_path is None:
                os.environ.pop("MYPYPATH", None)
            else:
                os.environ["MYPYPATH"] = saved_path
        built = sorted((work / "lib").glob("*.so"))
        if not built:
            raise NativeRouterError(f"mypyc produced no extension module in {work / 'lib'}")
        for old in dest.glob(f"{MODULE}*"):
            old.unlink()
        for so in built:
            shutil.copy2(so, dest / so.name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    importlib.invalidate_caches()
    return dest


def _quiet(fn: Callable[[], _T]) -> _T:
    """Run fn with the compiler's chatter (stdout) discarded; errors still show."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        return fn()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m routing.native", description=__doc__.split("\n\n")[0])
    ap.add_argument("command", choices=("build", "status"))
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    if args.command == "build":
        try:
            dest = build(quiet=not args.verbose)
        except (NativeRouterError, SystemExit, Exception) as exc:  # noqa: BLE001 - setuptools exits on compile errors
            print(f"routing.native: build failed: {exc}", file=sys.stderr)
            return 1
        native, why = _load_native()
        if native is None:
            print(f"routing.native: built into {dest} but not loadable: {why}", file=sys.stderr)
            return 1
        print(f"routing.native: compiled router built into {dest}")
        return 0
    native, why = _load_native()
    print("compiled router: current" if native is not None else f"compiled router: {why}")
    print(
        f"HOTLINE_ROUTER={os.environ.get('HOTLINE_ROUTER', 'auto')}: using the "
        f"{'compiled' if is_native(router_class()) else 'Python'} router"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
