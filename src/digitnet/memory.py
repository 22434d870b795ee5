"""How much memory this machine has, and the check that refuses work that cannot fit in it before it starts."""

from __future__ import annotations

import os


def physical_memory() -> int:
    """Bytes of physical memory; 0 where the system does not say (the checks are then skipped)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def fits(needed: int) -> tuple[bool, int]:
    """(whether ``needed`` bytes fit in this machine's memory, the memory in bytes)."""
    total = physical_memory()
    return not total or needed <= total, total


def gib(n: int) -> str:
    """Bytes as GiB for messages: '1.5 GiB'."""
    return f"{n / 2**30:,.1f} GiB"
