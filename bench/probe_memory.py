"""Benchmark: the API's peak memory under concurrent uploads of small images with many pixels.

Run by hand from the repository root::

    .venv/bin/python bench/probe_memory.py [--uploads 8] [--cases issue,rgba,progressive,webp]
        [--src DIR --label NAME]  # serve another source tree, e.g. an older release's

For each case it starts ``python -m reelforge serve`` (the real API: migrations, the engine in
its ``api`` role, uvicorn) in a fresh process on a loopback port, uploads one small PNG to warm
it up, notes its RSS, then sends ``--uploads`` copies of the case's file at once to
``POST /v1/assets/upload`` and reads the process's peak RSS (``VmHWM``, over its whole life) once
they are answered. Cases (all 8000x7999 pixels, under the 64-megapixel guard):

- ``issue``: a 62 KB greyscale PNG (issue #20's file);
- ``rgba``: a ~250 KB RGBA PNG, the costliest PNG to decode (4 bytes a pixel);
- ``progressive``: a progressive JPEG with 4:2:0 chroma (buffered as DCT coefficients whole);
- ``webp``: a lossless RGBA WebP of a few dozen bytes (refused: its decode would take ~1 GB).

``--src`` serves the ``src`` folder given instead of this checkout's (``git archive <commit> src``
gives an older one). The report goes to stdout and, with ``--label``, is appended to
``bench/results/probe_memory.txt``'s run of the same date.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import io
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
import PIL
from PIL import Image

RESULTS = Path(__file__).parent / "results" / "probe_memory.txt"
SOURCE = Path(__file__).resolve().parent.parent / "src"
SIZE = (8000, 7999)
TARGET_MIB = 512
CASES = ("issue", "rgba", "progressive", "webp")


def case_file(case: str) -> bytes:
    out = io.BytesIO()
    if case == "issue":
        Image.new("L", SIZE, 0).save(out, format="PNG", compress_level=9)
    elif case == "rgba":
        Image.new("RGBA", SIZE, (0, 0, 0, 0)).save(out, format="PNG", compress_level=9)
    elif case == "progressive":
        Image.new("RGB", SIZE, (10, 20, 30)).save(out, format="JPEG", progressive=True)
    elif case == "webp":
        Image.new("RGBA", SIZE, (0, 0, 0, 0)).save(out, format="WEBP", lossless=True, method=0)
    else:
        raise SystemExit(f"unknown case {case!r}")
    return out.getvalue()


def small_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 90)).save(out, format="PNG")
    return out.getvalue()


@dataclass
class Outcome:
    case: str
    file_bytes: int
    rss_before_mib: float
    peak_before_mib: float
    peak_mib: float
    seconds: float
    answers: Counter[str]


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _wait_healthy(client: httpx.AsyncClient, server: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode}")
        try:
            if (await client.get("/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the server did not come up")


async def _upload(client: httpx.AsyncClient, data: bytes) -> str:
    response = await client.post("/v1/assets/upload", content=data, timeout=600)
    if response.status_code == 201:
        return "201 stored"
    return f"{response.status_code} {response.json()['error']['code']}"


async def run_case(case: str, data: bytes, uploads: int, src: Path, work: Path) -> Outcome:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("REELFORGE_")}
    env.update(
        PYTHONPATH=str(src),
        PYTHONDONTWRITEBYTECODE="1",
        REELFORGE_DATA_DIR=str(work / case),
        REELFORGE_AUTH__ENABLED="false",
        REELFORGE_LOG_LEVEL="warning",
    )
    command = [sys.executable, "-m", "reelforge", "serve", "--host", "127.0.0.1"]
    server = subprocess.Popen([*command, "--port", str(port)], env=env, cwd=work)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            await _wait_healthy(client, server)
            assert await _upload(client, small_png()) == "201 stored"
            rss_before = _status_kib(server.pid, "VmRSS")
            peak_before = _status_kib(server.pid, "VmHWM")
            started = time.perf_counter()
            answers = await asyncio.gather(*(_upload(client, data) for _ in range(uploads)))
            seconds = time.perf_counter() - started
            peak = _status_kib(server.pid, "VmHWM")
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    return Outcome(
        case,
        len(data),
        rss_before / 1024,
        peak_before / 1024,
        peak / 1024,
        seconds,
        Counter(answers),
    )


def _machine() -> list[str]:
    mem_kib = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    return [
        f"date:    {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M UTC}",
        f"machine: nproc={os.cpu_count()}, RAM={mem_kib / 2**20:.1f} GiB, CPU={cpu}",
        f"system:  {platform.platform()}; python {platform.python_version()}, "
        f"Pillow {PIL.__version__}",
    ]


def _uptime() -> str:
    found = shutil.which("uptime")
    if found is None:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    return subprocess.run([found], capture_output=True, text=True, check=False).stdout.strip()


def _para(label: str, text: str) -> str:
    return textwrap.fill(text, width=100, initial_indent=f"{label:<9}", subsequent_indent=" " * 9)


def report(label: str, src: Path, uploads: int, outcomes: list[Outcome], load: list[str]) -> str:
    lines = [
        f"Reelforge probe memory benchmark (bench/probe_memory.py): {label}",
        *_machine(),
        f"source:  {src}",
        f"uptime:  at the start: {load[0]}",
        f"         at the end:   {load[1]}",
        "",
        _para(
            "method:",
            "per case, a fresh `reelforge serve` on loopback (engine in its api role, SQLite),"
            f" warmed up with one small upload; then {uploads} uploads of the case's file at once"
            " (POST /v1/assets/upload). 'RSS' is VmRSS after the warm-up; 'peak' the server"
            " process's VmHWM (peak RSS over its whole life) before the uploads and once all are"
            " answered.",
        ),
        "",
        f"{'case':<12}{'file bytes':>11}{'RSS':>9}{'peak before':>13}{'peak':>10}{'seconds':>9}"
        "   answers",
    ]
    for o in outcomes:
        answers = ", ".join(f"{n} x {a}" for a, n in sorted(o.answers.items()))
        lines.append(
            f"{o.case:<12}{o.file_bytes:>11,}{o.rss_before_mib:>5.0f} MiB{o.peak_before_mib:>9.0f}"
            f" MiB{o.peak_mib:>6.0f} MiB{o.seconds:>9.2f}   {answers}"
        )
    worst = max(o.peak_mib for o in outcomes)
    verdict = "met" if worst < TARGET_MIB else "MISSED"
    lines += ["", f"target:  peak RSS < {TARGET_MIB} MiB: {verdict} (worst {worst:.0f} MiB)"]
    return "\n".join(lines) + "\n"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--uploads", type=int, default=8)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--src", type=Path, default=SOURCE)
    parser.add_argument("--label", default=None, help="append the report to the results file")
    args = parser.parse_args()
    cases = [c for c in args.cases.split(",") if c]
    load = [_uptime()]
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="reelforge-probe-bench-") as tmp:
        for case in cases:
            outcome = await run_case(case, case_file(case), args.uploads, args.src, Path(tmp))
            print(
                f"{case}: peak {outcome.peak_before_mib:.0f} MiB before the uploads, "
                f"{outcome.peak_mib:.0f} MiB after",
                file=sys.stderr,
            )
            outcomes.append(outcome)
    load.append(_uptime())
    text = report(args.label or "not saved", args.src, args.uploads, outcomes, load)
    print(text)
    if args.label:
        with RESULTS.open("a") as out:
            out.write(text + "\n")


if __name__ == "__main__":
    asyncio.run(main())
