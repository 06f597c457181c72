"""What the benches share: the head of a report, and the CPU seconds used so far by processes
of this machine, read from ``/proc`` (Linux), reported per process next to wall times."""

from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path

__all__ = ["postgres_cpu_s", "process_cpu_s", "report_head"]


def report_head(title: str) -> list[str]:
    """A report's first lines: its title, when, and on what machine."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return [
        title,
        f"date:    {now}",
        f"machine: nproc={os.cpu_count()}, {platform.processor() or platform.machine()}",
    ]


def process_cpu_s(pid: int) -> float:
    """CPU seconds used so far by process ``pid`` (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def postgres_cpu_s() -> float:
    """CPU seconds used so far by this machine's PostgreSQL processes."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)
        except OSError:
            continue
        if fields[0].endswith("(postgres"):
            values = fields[1].split()
            total += int(values[11]) + int(values[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")
