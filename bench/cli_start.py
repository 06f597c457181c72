"""Benchmark: what ``reelforge --help`` and ``reelforge version`` cost to start (CPU, memory,
imports).

Run by hand from the repository root::

    .venv/bin/python bench/cli_start.py [--runs 20] [--save]
        [--src DIR --label NAME]  # start another source tree, e.g. an older commit's

Each command runs ``--runs`` times (after one run not counted, which writes the bytecode caches),
each in a fresh interpreter: ``python -c "from reelforge.cli import main; main()" ARGS``, what
the ``reelforge`` entry point runs, with stdout and stderr to ``/dev/null`` and ``COLUMNS=100``.
The runs alternate between the commands, so that a change in the machine's load touches each.
Two more rows give typer's own floor under the same load: a bare Typer app (two commands and a
``--verbose`` option, rich installed as here) asked for ``--help`` and running one command
(:data:`_FLOOR`). What a ``reelforge`` row costs above them is Reelforge's.

- CPU: user + system seconds of each run, the difference of
  ``resource.getrusage(RUSAGE_CHILDREN)`` before and after it; min, median and max are shown.
- Peak RSS: each run's own maximum resident set (``os.wait4``), the median of the runs.
- Imports: one more run of each command reports ``sys.modules`` at exit: how many modules, the
  top-level third-party packages among them, and those of them on the heavy list (web
  framework, ORM, engine, database drivers, media libraries: :data:`HEAVY`), which neither
  command needs.

The goal is at most 0.3 s of CPU for each command. CPU time grows with the load of the machine
(other processes share its caches and cores), so the report names the machine and the load
averages before and after (``uptime``). ``--src`` starts the ``src`` folder given instead of
this checkout's (``git archive <commit> src | tar -x -C DIR`` gives an older one); ``--save``
appends the report to ``bench/results/cli_start.txt``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from reelforge.cli.heavy import HEAVY_PACKAGES as HEAVY

RESULTS = Path(__file__).parent / "results" / "cli_start.txt"
SOURCE = Path(__file__).resolve().parent.parent / "src"
COMMANDS: tuple[tuple[str, ...], ...] = (("--help",), ("version",))
FLOOR_COMMANDS: tuple[tuple[str, ...], ...] = (("--help",), ("hello",))
GOAL_CPU_S = 0.3


_START = "import sys; sys.argv[0] = 'reelforge'; from reelforge.cli import main; main()"
# A bare Typer app, two commands so that "hello" is a subcommand as "version" is.
_FLOOR = (
    "import sys, typer\n"
    "sys.argv[0] = 'floor'\n"
    "app = typer.Typer()\n"
    "@app.callback()\n"
    "def options(verbose: bool = False) -> None: pass\n"
    "@app.command()\n"
    "def hello() -> None: typer.echo('hello')\n"
    "@app.command()\n"
    "def other() -> None: pass\n"
    "app()\n"
)
# The reelforge start, writing the names of the modules loaded when the interpreter exits.
_START_LISTING = (
    "import atexit, sys\n"
    "def _write(path=sys.argv.pop(1)):\n"
    "    with open(path, 'w') as out:\n"
    "        out.write('\\n'.join(sorted(sys.modules)))\n"
    "atexit.register(_write)\n" + _START
)


@dataclass
class Runs:
    command: tuple[str, ...]
    start: str = _START
    program: str = "reelforge"
    cpu_s: list[float] = field(default_factory=list)
    peak_rss_mib: list[float] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.program} {' '.join(self.command)}"


def environment(src: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REELFORGE_")}
    env.update({"PYTHONPATH": str(src), "COLUMNS": "100"})
    return env


def run_once(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """One run in a fresh interpreter: (user + system CPU seconds, peak RSS in MiB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    process = subprocess.Popen(
        [sys.executable, *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if process.returncode != 0:
        raise SystemExit(f"{args} exited with {process.returncode}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def loaded_modules(command: tuple[str, ...], env: dict[str, str], cwd: Path) -> list[str]:
    listing = cwd / "modules.txt"
    run_once(["-c", _START_LISTING, str(listing), *command], env, cwd)
    return listing.read_text().split()


def measure(src: Path, runs: int) -> list[Runs]:
    env = environment(src)
    results = [Runs(command) for command in COMMANDS]
    results += [Runs(command, _FLOOR, "typer floor") for command in FLOOR_COMMANDS]
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        for result in results:
            run_once(["-c", result.start, *result.command], env, cwd)  # writes the .pyc files
            if result.start is _START:
                result.modules = loaded_modules(result.command, env, cwd)
        for _ in range(runs):
            for result in results:
                cpu, rss = run_once(["-c", result.start, *result.command], env, cwd)
                result.cpu_s.append(cpu)
                result.peak_rss_mib.append(rss)
    return results


def third_party(modules: list[str]) -> list[str]:
    tops = {name.partition(".")[0] for name in modules}
    stdlib = set(sys.stdlib_module_names)
    return sorted(t for t in tops if t not in stdlib and not t.startswith("_") and t != "reelforge")


def machine() -> str:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    return (
        f"{os.cpu_count()} cores ({model or platform.processor() or 'unknown CPU'}), "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def load() -> str:
    """``uptime``'s line: the load averages over 1, 5 and 15 minutes."""
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        one, five, fifteen = os.getloadavg()
        return f"load average: {one:.2f}, {five:.2f}, {fifteen:.2f}"


def report(results: list[Runs], *, label: str, src: Path, runs: int, loads: list[str]) -> str:
    lines = [
        f"## {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, {label} ({src})",
        f"machine: {machine()}",
        f"uptime before: {loads[0]}",
        f"uptime after:  {loads[1]}",
        f"{runs} runs of each command in a fresh interpreter; CPU = user + sys (RUSAGE_CHILDREN)",
        "",
        f"{'command':<24} {'CPU min':>8} {'median':>8} {'max':>8} {'peak RSS':>10} {'modules':>8}",
    ]
    for result in results:
        cpu = result.cpu_s
        lines.append(
            f"{result.name:<24} {min(cpu):>7.3f}s {statistics.median(cpu):>7.3f}s "
            f"{max(cpu):>7.3f}s {statistics.median(result.peak_rss_mib):>7.1f} MiB "
            f"{len(result.modules) or '':>8}"
        )
    own = [result for result in results if result.start is _START]
    floors = [result for result in results if result.start is not _START]
    for result, floor in zip(own, floors, strict=True):
        packages = third_party(result.modules)
        heavy = [p for p in packages if p in HEAVY]
        median = statistics.median(result.cpu_s)
        verdict = "met" if median <= GOAL_CPU_S else "NOT met"
        above = median - statistics.median(floor.cpu_s)
        lines += [
            "",
            f"{result.name}: goal of {GOAL_CPU_S} s CPU (median) {verdict}; "
            f"{above:+.3f} s above {floor.name}",
            f"  third-party packages: {', '.join(packages) or 'none'}",
            f"  heavy packages: {', '.join(heavy) or 'none'}",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="runs of each command")
    parser.add_argument("--src", type=Path, default=SOURCE, help="the source tree to start")
    parser.add_argument("--label", default="this checkout", help="what --src is, in the report")
    parser.add_argument("--save", action="store_true", help=f"append the report to {RESULTS}")
    options = parser.parse_args()
    src = options.src.resolve()
    before = load()
    results = measure(src, options.runs)
    text = report(results, label=options.label, src=src, runs=options.runs, loads=[before, load()])
    print(text)
    if options.save:
        with RESULTS.open("a") as out:
            out.write(text + "\n")


if __name__ == "__main__":
    main()
