"""The mypyc build of the AMI codec (cti/ami_native.py) replaces cti.ami_codec's
names all together, only when it was built from the current source; a missing or
stale build is never used, and an error where it was asked for."""

from __future__ import annotations

import dataclasses
import gzip
import inspect
import os
import subprocess
import sys

import cti.ami_codec
import cti.ami_native as ami_native
from config.native_build import END_OF_COMPILED, ROOT
from config.paths import ami_traces_dir


def _import_codec(choice: str, stale: bool = False) -> subprocess.CompletedProcess[str]:
    """Import cti.ami_codec in a fresh interpreter (the choice is made at import)."""
    code = (
        "from config.native_build import NativeModule\n"
        + ("NativeModule.source_digest = lambda self: '0' * 64\n" if stale else "")
        + "import cti.ami_codec as c\n"
        + "print(sorted({c.Message.__module__, c.MalformedBlock.__module__, c.Banner.__module__,"
        + " c.AmiParser.__module__, c.encode.__module__, c.parse_bytes.__module__}))\n"
    )
    env = {**os.environ, "HOTLINE_AMI_CODEC": choice}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_auto_takes_the_current_build_for_every_name() -> None:
    assert ami_native.is_native()  # make test builds it: the live server takes it
    assert _import_codec("auto").stdout.strip() == "['hotline_native_ami']"
    assert _import_codec("python").stdout.strip() == "['cti.ami_codec']"


def test_a_stale_build_is_never_used() -> None:
    """A build from other sources (ami_codec.py edited since) is refused: auto keeps
    the Python codec, `native` fails the import saying what to run."""
    assert _import_codec("auto", stale=True).stdout.strip() == "['cti.ami_codec']"
    refused = _import_codec("native", stale=True)
    assert refused.returncode != 0
    assert "built from other sources than cti/ami_codec.py now" in refused.stderr and "make native" in refused.stderr
    other = dataclasses.replace(ami_native.NATIVE, depends=(ROOT / "cti" / "ami.py",))
    mod, why = other.load()
    assert mod is None and "built from other sources" in why


def test_unknown_choice_is_a_clear_error() -> None:
    failed = _import_codec("fast")
    assert "HOTLINE_AMI_CODEC='fast': must be one of auto, python, native" in failed.stderr


def test_the_codec_names_all_come_from_the_compiled_module() -> None:
    compiled = ami_native.implementation("native")
    for name, value in vars(compiled).items():
        if inspect.isclass(value) or inspect.isroutine(value):
            assert getattr(cti.ami_codec, name) is value, name


def test_the_compiled_text_stops_before_the_import_time_choice() -> None:
    text = ami_native.NATIVE.compiled_text("f" * 64)
    assert END_OF_COMPILED in ami_native.SOURCE.read_text()
    assert END_OF_COMPILED not in text and "bind(" not in text
    assert text.endswith('SOURCE_SHA256 = "' + "f" * 64 + '"  # what config/native_build.py checks\n')


def test_both_builds_parse_the_load_capture_alike() -> None:
    data = gzip.open(ami_traces_dir() / "load" / "load-4cps.ami.gz").read()[:2_000_000]
    python, native = ami_native.implementation("python"), ami_native.implementation("native")

    def parsed(codec: object) -> list[object]:
        parser = codec.AmiParser(keep_event=lambda name: name != "VarSet")  # type: ignore[attr-defined]
        out = [parser.feed(data[i : i + 1500]) for i in range(0, len(data), 1500)]
        return [repr(m) for chunk in out for m in chunk]  # the dataclasses' repr: class name and fields

    items = parsed(python)
    assert len(items) > 2000 and items[0].startswith("Banner(") and items == parsed(native)


def test_make_rebuilds_when_the_codec_changes() -> None:
    """The Makefile's native stamp depends on the codec's sources (else `make test`
    would keep a stale build, which the server then ignores)."""
    makefile = (ROOT / "Makefile").read_text()
    rule = next(line for line in makefile.splitlines() if line.startswith("$(NATIVE_STAMP):"))
    prerequisites = set(rule.split(":", 1)[1].split())
    wanted = {p.relative_to(ROOT).as_posix() for p in ami_native.NATIVE.depends}
    assert wanted | {"cti/ami_native.py", "config/native_build.py"} <= prerequisites
