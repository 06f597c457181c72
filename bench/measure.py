"""What the benches share: the head of a report, and the CPU seconds used so far by processes
of this machine, read from ``/proc`` (Linux), reported per process next to wall times."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from pathlib import Path

#: How a results file with a section per database names each section.
SECTION = "## "

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


def git_describe() -> str:
    """The code measured: ``git describe --always --dirty``, or "unknown"."""
    try:
        found = subprocess.run(
            ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return found.stdout.strip()


def replace_section(
    path: Path, head: list[str], name: str, lines: list[str], order: tuple[str, ...]
) -> None:
    """Rewrite a results file of ``## <name>`` sections: ``head``, then the sections in
    ``order``, this run's ``lines`` in place of section ``name``, the others kept."""
    sections: dict[str, list[str]] = {}
    if path.exists():
        current: list[str] | None = None
        for line in path.read_text().splitlines():
            if line.startswith(SECTION):
                current = sections.setdefault(line.removeprefix(SECTION).split()[0], [])
            if current is not None:
                current.append(line)
    sections[name] = lines
    body = [line for key in order for line in [*sections.get(key, []), ""]]
    path.write_text("\n".join(head + body).rstrip() + "\n")
