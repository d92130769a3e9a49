"""What the benchmarks' pictures share: matplotlib without a display, and a PNG that says which
command drew it."""

from __future__ import annotations

import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any


def pyplot() -> ModuleType:
    """matplotlib's pyplot, drawing to files only (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    return plt


def save(fig: Any, path: Path, title: str, command: str, *, width: int, rect: tuple[float, ...]) -> None:
    """Write `fig` to `path` as a PNG titled "`title`, drawn by: `command`" (folded at `width`
    characters), its axes laid out within `rect`; the figure is closed."""
    fig.suptitle(textwrap.fill(f"{title}, drawn by: {command}", width), fontsize=7)
    fig.tight_layout(rect=rect)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    pyplot().close(fig)
