"""Where the project's own fixtures live: the recorded Asterisk 20 traces (tests,
benchmarks, the emulator's fidelity replay) and the Anonymous Bank month (examples,
tests, the simulator's replay). Both are in the repository: nothing is read from
beside the checkout.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def ami_traces_dir() -> Path:
    return REPO / "tests" / "fixtures" / "ami-traces"


def datasets_dir() -> Path:
    return REPO / "data"


def anonymous_bank_month() -> Path:
    return datasets_dir() / "anonymous-bank" / "february-1999.tsv"
