"""Project modules compiled to C with mypyc, the machinery they share.

A hot module (the router for the simulator, the AMI codec for the live server) is
compiled as it is -- the same source, so the same behaviour -- into an extension
module installed in the running interpreter's site-packages. The build carries the
SHA-256 of the sources it was compiled from; at import that digest is compared with
the sources' now, and a build from other sources is never used. Each user (see
routing/native.py, cti/ami_native.py) describes its build with a `NativeModule` and
lets an environment variable choose: `auto` (compiled when current, else Python),
`python`, or `native` (compiled, or an error saying why not).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib
import io
import os
import shutil
import sys
import sysconfig
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[1]
CHOICES = ("auto", "python", "native")
# A source may end with this line: what follows it (choosing the build at import)
# belongs to the Python module only and is left out of the compiled one.
END_OF_COMPILED = "# ---- end of the compiled module ----"

_T = TypeVar("_T")


class NativeBuildError(RuntimeError):
    pass


@dataclass(frozen=True)
class NativeModule:
    """One source compiled with mypyc into the extension module `name`."""

    name: str  # the extension module, e.g. hotline_native_router
    source: Path  # the one file compiled
    depends: tuple[Path, ...]  # what the digest covers: the source and what it is typed against
    noun: str  # for messages, e.g. "router"
    env: str  # the variable choosing the build, e.g. HOTLINE_ROUTER

    @property
    def what(self) -> str:
        return f"compiled {self.noun}"

    def source_digest(self) -> str:
        h = hashlib.sha256()
        for path in self.depends:
            h.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
        return h.hexdigest()

    def choice(self, choice: str | None = None) -> str:
        """`choice`, else the environment variable, else auto; checked."""
        choice = (choice or os.environ.get(self.env) or "auto").strip().lower()
        if choice not in CHOICES:
            raise NativeBuildError(f"{self.env}={choice!r}: must be one of {', '.join(CHOICES)}")
        return choice

    def load(self, digest: str | None = None) -> tuple[ModuleType | None, str]:
        """(the compiled module, "") if built from the sources as they are now (or
        from `digest`), else (None, why not)."""
        try:
            mod = importlib.import_module(self.name)
        except ImportError as exc:
            return None, f"not built ({exc}); run `make native`"
        if getattr(mod, "SOURCE_SHA256", "") != (digest or self.source_digest()):
            sources = self.source.relative_to(ROOT).as_posix() + (" and its imports" if len(self.depends) > 1 else "")
            return None, f"built from other sources than {sources} now ({mod.__file__}); run `make native`"
        return mod, ""

    def compiled_text(self, digest: str) -> str:
        """The source as compiled: up to END_OF_COMPILED, with the digest appended."""
        text = self.source.read_text().split("\n" + END_OF_COMPILED + "\n", 1)[0]
        return text.rstrip("\n") + f'\n\n\nSOURCE_SHA256 = "{digest}"  # what config/native_build.py checks\n'

    def build(self, quiet: bool = True) -> Path:
        """Compile the source with mypyc into site-packages; returns that directory.
        mypyc type-checks the module first: a type error fails the build (and says where)."""
        dest = Path(sysconfig.get_paths()["platlib"])
        work = Path(tempfile.mkdtemp(prefix="hotline-native-"))
        try:
            src = work / f"{self.name}.py"
            src.write_text(self.compiled_text(self.source_digest()))
            built = _compile(src, quiet)
            if not built:
                raise NativeBuildError(f"mypyc produced no extension module in {work / 'lib'}")
            for old in dest.glob(f"{self.name}*"):
                old.unlink()
            for so in built:
                shutil.copy2(so, dest / so.name)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        importlib.invalidate_caches()
        return dest


def _compile(src: Path, quiet: bool) -> list[Path]:
    """mypyc and the C compiler on `src`, in its directory; the extension modules built."""
    try:
        from mypyc.build import mypycify
        from setuptools import Distribution
    except ImportError as exc:  # pragma: no cover - the test extras install both
        raise NativeBuildError(f"cannot build {src.stem}: {exc} (pip install mypy setuptools)") from exc
    work = src.parent
    cwd = os.getcwd()
    os.chdir(work)  # mypyc names the module after the file's path from here
    saved_path = os.environ.get("MYPYPATH")
    os.environ["MYPYPATH"] = str(ROOT)  # the project modules the source imports
    try:
        exts = mypycify([src.name], opt_level="3", target_dir=str(work / "c"))
        dist = Distribution({"name": src.stem, "ext_modules": exts})
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
    return sorted((work / "lib").glob("*.so"))


def _quiet(fn: Callable[[], _T]) -> _T:
    """Run fn with the compiler's chatter (stdout) discarded; errors still show."""
    with contextlib.redirect_stdout(io.StringIO()):
        return fn()


def main(native: NativeModule, prog: str, in_use: Callable[[], bool], argv: list[str] | None = None) -> int:
    """`python -m <prog> build|status`: build the module, or say whether it is current
    and which build `in_use()` runs under the environment's choice."""
    ap = argparse.ArgumentParser(prog=f"python -m {prog}", description=f"Build or check the {native.what} (mypyc).")
    ap.add_argument("command", choices=("build", "status"))
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    if args.command == "build":
        try:
            dest = native.build(quiet=not args.verbose)
        except (NativeBuildError, SystemExit, Exception) as exc:  # noqa: BLE001 - setuptools exits on compile errors
            print(f"{prog}: build failed: {exc}", file=sys.stderr)
            return 1
        mod, why = native.load()
        if mod is None:
            print(f"{prog}: built into {dest} but not loadable: {why}", file=sys.stderr)
            return 1
        print(f"{prog}: {native.what} built into {dest}")
        return 0
    mod, why = native.load()
    print(f"{native.what}: current" if mod is not None else f"{native.what}: {why}")
    kind = "compiled" if in_use() else "Python"
    print(f"{native.env}={os.environ.get(native.env, 'auto')}: using the {kind} {native.noun}")
    return 0
