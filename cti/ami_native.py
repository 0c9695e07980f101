"""The AMI codec compiled to C with mypyc, for the live server.

The live server spends a tenth of its CPU in `cti/ami_codec.py` (splitting blocks
into headers, `Message.get`). mypyc compiles that file as it is -- the text above
its "end of the compiled module" line (END_OF_COMPILED) -- into `hotline_native_ami` (config/native_build.py
builds it, with the SHA-256 of the source it came from). At the end of its import,
`cti.ami_codec` calls `bind`, which swaps every name it defines for the compiled
module's when that build is current: consumers keep importing from `cti.ami_codec`,
and `Message`, `MalformedBlock`, `Banner`, `AmiParser`... all come from one module,
so isinstance checks hold whichever it is. Its `Message` allows interpreted
subclasses (an `AmiParser` message_factory).

    python -m cti.ami_native build     # make native
    python -m cti.ami_native status

`HOTLINE_AMI_CODEC` chooses, read once at import: `auto` (default: compiled if built
from the current ami_codec.py, else Python), `python`, or `native` (compiled, or an
import error saying why not).
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType
from typing import Any

from config.native_build import ROOT, NativeBuildError, NativeModule
from config.native_build import main as native_main

MODULE = "hotline_native_ami"
SOURCE = ROOT / "cti" / "ami_codec.py"
NATIVE = NativeModule(name=MODULE, source=SOURCE, depends=(SOURCE,), noun="AMI codec", env="HOTLINE_AMI_CODEC")

PYTHON_COPY = "cti.ami_codec_python"  # the source run again as Python, for the tests


def bind(namespace: dict[str, Any]) -> None:
    """Called by cti.ami_codec with its globals at the end of its import: replace its
    names by the compiled module's if HOTLINE_AMI_CODEC and the build allow it."""
    if namespace.get("__name__") != "cti.ami_codec":
        return  # the Python copy `implementation` loads
    choice = NATIVE.choice()
    if choice == "python":
        return
    mod, why = NATIVE.load()
    if mod is None:
        if choice == "native":
            raise NativeBuildError(f"compiled AMI codec: {why}")
        return
    for name, value in vars(mod).items():
        if not name.startswith("__") and name in namespace:
            namespace[name] = value


def implementation(choice: str) -> ModuleType:
    """The codec as built by `choice` ("python" or "native"), whatever cti.ami_codec
    took: the tests run both. The compiled build must be current. The Python one is
    cti.ami_codec itself when it kept its names, else a copy run from the source (its
    functions read their module's globals: they must not see the compiled names)."""
    import cti.ami_codec

    if choice == "native":
        mod, why = NATIVE.load()
        if mod is None:
            raise NativeBuildError(f"compiled AMI codec: {why}")
        return mod
    if not is_native():
        return cti.ami_codec
    if PYTHON_COPY not in sys.modules:
        spec = importlib.util.spec_from_file_location(PYTHON_COPY, SOURCE)
        assert spec is not None and spec.loader is not None
        copy = importlib.util.module_from_spec(spec)
        sys.modules[PYTHON_COPY] = copy
        spec.loader.exec_module(copy)
    return sys.modules[PYTHON_COPY]


def is_native() -> bool:
    """Whether cti.ami_codec's names are the compiled module's."""
    import cti.ami_codec

    return cti.ami_codec.AmiParser.__module__ == MODULE


def main(argv: list[str] | None = None) -> int:
    return native_main(NATIVE, "cti.ami_native", is_native, argv)


if __name__ == "__main__":
    raise SystemExit(main())
