"""Where the material shared beside the checkout lives (recorded AMI traces, datasets).

`../shared` next to the repository by default; `HOTLINE_SHARED` points elsewhere, and
`HOTLINE_AMI_TRACES` overrides the traces folder alone.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    return Path(os.environ.get("HOTLINE_SHARED", REPO.parent / "shared"))


def ami_traces_dir() -> Path:
    return Path(os.environ.get("HOTLINE_AMI_TRACES", shared_dir() / "ami-traces"))


def datasets_dir() -> Path:
    return shared_dir() / "datasets"
