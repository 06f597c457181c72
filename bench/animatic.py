"""Bench: our animatic renderer against ffmpeg's ``zoompan``, same still, same moves, same run.

12 s of 1280x720 @ 24 fps: six 2 s clips (push-in, pull-out, pan left, pan right, tilt up, tilt
down, motion strength 0.5) from one 1920x1080 previz still, encoded by both with libx264
``preset=veryfast``, ``crf=23``, yuv420p, ``+faststart``, encoder threads left at their
defaults (x264 frame threads for both). The crop path is the same for both: the poses come from
``camera.move_poses`` and the easing is smoothstep; zoompan gets them as expressions.

Timed (wall clock, rounds interleaved, median reported):
  ours, in-process    decode the PNG + render_animatic, per clip (a running service)
  ours, process       a fresh interpreter: start, imports, the six clips (like for like with
                      the command line)
  ffmpeg, 6 processes one ffmpeg command per clip (process start, PNG decode, zoompan, encode)
  ffmpeg, 1 process   one ffmpeg command, split into six zoompan outputs

Jitter is measured identically on every decoded output: each frame is registered to the still
with ECC (affine, at half resolution), nine virtual markers on a grid are mapped into the frame,
and the RMS residual of their tracks from a cubic fit in time is the jitter, in output pixels.

Needs ffmpeg on PATH (``apt-get install -y ffmpeg``). Run by hand:
    .venv/bin/python bench/animatic.py [--rounds 5] [--results bench/results/animatic.txt]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import av
import cv2
import numpy as np
import numpy.typing as npt
import PIL
from PIL import Image

from reelforge.providers.briefs import CharacterBrief, SceneBrief
from reelforge.providers.local.animatic import render_animatic
from reelforge.providers.local.camera import CameraMove, crop_boxes, move_poses
from reelforge.providers.local.previz import render_previz

MOVES = (
    CameraMove.PUSH_IN, CameraMove.PULL_OUT, CameraMove.PAN_LEFT, CameraMove.PAN_RIGHT,
    CameraMove.TILT_UP, CameraMove.TILT_DOWN,
)  # fmt: skip
WIDTH, HEIGHT, FPS, SECONDS, STRENGTH = 1280, 720, 24, 2.0, 0.5
FRAMES = round(SECONDS * FPS)
ENCODE = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p"]
MUX = ["-movflags", "+faststart"]
Float = npt.NDArray[np.float64]


def make_still(folder: Path) -> Path:
    brief = SceneBrief(
        frame_id="B1",
        description="Mara and Jonah meet at the edge of the city as the sun goes down.",
        camera_notes="wide establishing shot",
        lighting_mood="golden hour",
        characters=(
            CharacterBrief("Mara", "red scarf, silver hair, long charcoal coat"),
            CharacterBrief("Jonah", "blue denim jacket"),
        ),
    )
    path = folder / "still.png"
    render_previz(brief, width=1920, height=1080, seed=11).save(path)
    return path


def render_clip(image: Image.Image, folder: Path, move: CameraMove) -> None:
    render_animatic(
        [image], out=folder / f"ours_{move}.mp4", duration_s=SECONDS, camera=move,
        motion_strength=STRENGTH, width=WIDTH, height=HEIGHT, fps=FPS, crf=23, preset="veryfast",
    )  # fmt: skip


def ours_in_process(still: Path, folder: Path) -> None:
    """Clip after clip, each decoding the PNG itself (as separate service requests do)."""
    for move in MOVES:
        with Image.open(still) as image:
            image.load()
            render_clip(image, folder, move)


def ours_threads(still: Path, folder: Path) -> None:
    """All six clips at once from one decoded PNG, one worker thread each (like ffmpeg's one
    process with six outputs, and like concurrent jobs in the service)."""
    with Image.open(still) as image, ThreadPoolExecutor(max_workers=len(MOVES)) as pool:
        image.load()
        list(pool.map(lambda move: render_clip(image, folder, move), MOVES))


def ours_process(still: Path, folder: Path) -> None:
    subprocess.run([sys.executable, __file__, "--worker", str(still), str(folder)], check=True)


def ours_process_threads(still: Path, folder: Path) -> None:
    command = [sys.executable, __file__, "--worker", str(still), str(folder), "--threads"]
    subprocess.run(command, check=True)


def zoompan(move: CameraMove) -> str:
    """The zoompan filter for ``move``: the same poses and smoothstep as ``crop_boxes``."""
    start, end = move_poses(move, STRENGTH)
    t = f"(on/{FRAMES - 1})"
    ease = f"({t}*{t}*(3-2*{t}))"
    zoom = f"{start.zoom!r}+{end.zoom - start.zoom!r}*{ease}"
    cx = f"({start.cx!r}+{end.cx - start.cx!r}*{ease})"
    cy = f"({start.cy!r}+{end.cy - start.cy!r}*{ease})"
    return (
        f"zoompan=z='{zoom}':x='iw*{cx}-iw/zoom/2':y='ih*{cy}-ih/zoom/2'"
        f":d={FRAMES}:s={WIDTH}x{HEIGHT}:fps={FPS}"
    )


def ffmpeg_per_clip(still: Path, folder: Path) -> None:
    for move in MOVES:
        out = folder / f"ffmpeg_{move}.mp4"
        subprocess.run(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(still),
             "-vf", zoompan(move), "-frames:v", str(FRAMES), *ENCODE, *MUX, str(out)],
            check=True,
        )  # fmt: skip


def ffmpeg_one_process(still: Path, folder: Path) -> None:
    labels = [f"s{i}" for i in range(len(MOVES))]
    graph = f"[0:v]split={len(MOVES)}" + "".join(f"[{s}]" for s in labels)
    outputs: list[str] = []
    for label, move in zip(labels, MOVES, strict=True):
        graph += f";[{label}]{zoompan(move)}[v{label}]"
        outputs += ["-map", f"[v{label}]", "-frames:v", str(FRAMES), *ENCODE, *MUX,
                    str(folder / f"ffmpeg1_{move}.mp4")]  # fmt: skip
    command = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(still)]
    subprocess.run([*command, "-filter_complex", graph, *outputs], check=True)


def decode_luma(path: Path) -> list[npt.NDArray[np.float32]]:
    with av.open(str(path)) as container:
        return [
            np.asarray(f.to_ndarray(format="gray"), np.float32) for f in container.decode(video=0)
        ]


def jitter(path: Path, still: Path, move: CameraMove) -> tuple[float, int]:
    """RMS residual (output px) of nine virtual markers' tracks from cubic fits; frame count."""
    frames = decode_luma(path)
    with Image.open(still) as image:
        source = np.asarray(image.convert("L"), np.float32)
    half_w, half_h = source.shape[1] // 2, source.shape[0] // 2
    source = np.asarray(cv2.resize(source, (half_w, half_h), interpolation=cv2.INTER_AREA))
    mask = np.full(source.shape, 255, np.uint8)  # ECC's mask covers the input (the still)
    grid = np.array(
        [[x * half_w, y * half_h, 1.0] for x in (0.35, 0.5, 0.65) for y in (0.35, 0.5, 0.65)]
    )
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 100, 1e-6)
    tracks = []
    for frame, (x0, y0, w, h) in zip(frames, crop_boxes(move, len(frames), STRENGTH), strict=True):
        template = cv2.resize(frame, (WIDTH // 2, HEIGHT // 2), interpolation=cv2.INTER_AREA)
        sx, sy = w * half_w / (WIDTH // 2), h * half_h / (HEIGHT // 2)
        guess = np.array([[sx, 0, x0 * half_w + sx / 2 - 0.5], [0, sy, y0 * half_h + sy / 2 - 0.5]])
        _, warp = cv2.findTransformECC(
            template, source, guess.astype(np.float32), cv2.MOTION_AFFINE, criteria, mask, 3
        )
        inverse = np.linalg.inv(np.vstack([warp, [0.0, 0.0, 1.0]]))
        tracks.append((inverse @ grid.T)[:2].T * 2.0)  # back to full-resolution output pixels
    positions = np.array(tracks)  # (frames, markers, 2)
    t = np.arange(len(positions), dtype=np.float64)
    squares = [
        np.square(positions[:, k, a] - np.polyval(np.polyfit(t, positions[:, k, a], 3), t))
        for k in range(positions.shape[1])
        for a in (0, 1)
    ]
    return float(np.sqrt(np.mean(squares) * 2)), len(frames)


def x264_settings(path: Path) -> str:
    """The version and options x264 writes into the stream's SEI."""
    found = re.search(rb"x264 - core (\d+)[^\x00]*?options: ([^\x00]+)", path.read_bytes())
    return f"core {found[1].decode()} | {found[2].decode()}" if found else "?"


def cpu_seconds() -> float:
    """User + system CPU time of this process (all threads) and its finished children."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def machine() -> list[str]:
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    total = re.search(r"MemTotal:\s+(\d+)", meminfo)
    cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
    ffmpeg = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, check=True)
    return [
        f"date: {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}",
        f"machine: nproc={os.cpu_count()}, RAM={int(total[1]) / 2**20:.1f} GiB"
        if total else f"machine: nproc={os.cpu_count()}",
        f"cpu: {cpu[1] if cpu else platform.processor()}",
        f"os: {platform.platform()}",
        f"python: {platform.python_version()}",
        f"av {av.__version__} (FFmpeg {av.ffmpeg_version_info}), opencv {cv2.__version__}, "
        f"numpy {np.__version__}, pillow {PIL.__version__}",
        f"ffmpeg CLI: {ffmpeg.stdout.splitlines()[0]}",
        f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--results", type=Path, default=Path(__file__).parent / "results" / "animatic.txt"
    )
    parser.add_argument("--worker", nargs=2, metavar=("STILL", "FOLDER"), help=argparse.SUPPRESS)
    parser.add_argument("--threads", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker = ours_threads if args.threads else ours_in_process
        worker(Path(args.worker[0]), Path(args.worker[1]))
        return 0
    if shutil.which("ffmpeg") is None:
        print("ffmpeg is not on PATH: apt-get install -y ffmpeg", file=sys.stderr)
        return 2
    lines = ["# Animatic bench: render_animatic (PyAV + OpenCV) vs ffmpeg zoompan", *machine()]
    contenders: dict[str, Callable[[Path, Path], None]] = {
        "ours, in-process, clip after clip": ours_in_process,
        "ours, in-process, 6 threads": ours_threads,
        "ours, process, clip after clip": ours_process,
        "ours, process, 6 threads": ours_process_threads,
        "ffmpeg, 6 processes (one per clip)": ffmpeg_per_clip,
        "ffmpeg, 1 process, 6 outputs": ffmpeg_one_process,
    }
    times: dict[str, list[float]] = {name: [] for name in contenders}
    cpu: dict[str, list[float]] = {name: [] for name in contenders}
    with tempfile.TemporaryDirectory(prefix="reelforge-bench-") as name:
        folder = Path(name)
        still = make_still(folder)
        ours_in_process(still, folder)  # warm-up: imports, page cache, first-call costs
        for round_index in range(args.rounds):
            order = list(contenders.items())
            order = order[round_index % len(order) :] + order[: round_index % len(order)]
            for label, run in order:
                started, cpu_started = time.perf_counter(), cpu_seconds()
                run(still, folder)
                times[label].append(time.perf_counter() - started)
                cpu[label].append(cpu_seconds() - cpu_started)
        lines += _report_times(times, cpu, args.rounds)
        print("\n".join(lines), flush=True)
        jitter_lines, jitters = _report_jitter(folder, still)
    lines += jitter_lines
    lines += _report_startup()
    lines.append(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    lines += _verdict(
        {label: statistics.median(values) for label, values in times.items()}, jitters
    )
    print("\n".join(lines[lines.index(jitter_lines[0]) :]))
    text = "\n".join(lines) + "\n"
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(text)
    return 0


def _report_times(
    times: dict[str, list[float]], cpu: dict[str, list[float]], rounds: int
) -> list[str]:
    median = {label: statistics.median(values) for label, values in times.items()}
    frames = FRAMES * len(MOVES)
    lines = [
        "",
        f"## Wall time for 12 s of video ({len(MOVES)} x {SECONDS:g} s = {frames} frames), "
        f"median of {rounds} interleaved rounds",
    ]
    header = f"{'':38s} {'median':>8s} {'fps':>5s} {'best':>6s} {'CPU s':>6s}  (wall of each run)"
    lines.append(header)
    for label, values in times.items():
        runs = ", ".join(f"{v:.2f}" for v in values)
        cpu_median = statistics.median(cpu[label])
        lines.append(f"{label:38s} {median[label]:6.2f} s {frames / median[label]:5.0f} "
                     f"{min(values):6.2f} {cpu_median:6.2f}  ({runs})")  # fmt: skip
    pairs = (
        ("ffmpeg, 6 processes (one per clip)", "ours, process, clip after clip"),
        ("ffmpeg, 1 process, 6 outputs", "ours, process, 6 threads"),
        ("ffmpeg, 6 processes (one per clip)", "ours, in-process, clip after clip"),
        ("ffmpeg, 1 process, 6 outputs", "ours, in-process, 6 threads"),
    )
    lines.append("ratios, ffmpeg time / our time (> 1: ours is faster):")
    for theirs, ours in pairs:
        lines.append(f"  {theirs:36s} / {ours:34s} {median[theirs] / median[ours]:5.2f}x")
    return lines


def _report_startup() -> list[str]:
    """What a fresh process costs before any frame: the part the process variants add."""

    def wall(command: list[str]) -> float:
        runs = []
        for _ in range(5):
            started = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            runs.append(time.perf_counter() - started)
        return statistics.median(runs)

    python = [sys.executable, "-c"]
    libraries = wall([*python, "import av, cv2, numpy, PIL.Image"])
    ours = wall([*python, "import reelforge.providers.local.animatic"])
    ffmpeg = wall(["ffmpeg", "-hide_banner", "-version"])
    return [
        "",
        "## Process start (median of 5, wall)",
        f"python + import av, cv2, numpy, PIL:         {libraries:.2f} s",
        f"python + import reelforge...local.animatic:  {ours:.2f} s  (the package root imports "
        "reelforge.settings and what it pulls in)",
        f"ffmpeg -version:                             {ffmpeg:.2f} s",
    ]


def _verdict(median: dict[str, float], jitters: tuple[float, float]) -> list[str]:
    """Target: ours at least as fast end to end as zoompan for the 12 s, with less jitter."""

    def compare(ours: str, theirs: str) -> str:
        verdict = "met" if median[ours] <= median[theirs] else "MISSED"
        return f"  {verdict:6s} {ours} {median[ours]:.2f} s vs {theirs} {median[theirs]:.2f} s"

    ours_jitter, their_jitter = jitters
    return [
        "",
        "## Verdict (target: ours at least as fast as zoompan, with less jitter)",
        compare("ours, in-process, clip after clip", "ffmpeg, 6 processes (one per clip)"),
        compare("ours, process, clip after clip", "ffmpeg, 6 processes (one per clip)"),
        compare("ours, in-process, 6 threads", "ffmpeg, 1 process, 6 outputs"),
        compare("ours, process, 6 threads", "ffmpeg, 1 process, 6 outputs"),
        f"  {'met' if ours_jitter < their_jitter else 'MISSED':6s} jitter: ours "
        f"{ours_jitter:.3f} px vs zoompan {their_jitter:.3f} px RMS "
        f"({their_jitter / ours_jitter:.1f}x less)",
    ]


def _report_jitter(folder: Path, still: Path) -> tuple[list[str], tuple[float, float]]:
    lines = ["", "## Jitter (RMS px from a cubic fit, 9 ECC-tracked virtual markers, 1280x720)"]
    lines.append(f"{'move':10s} {'ours':>8s} {'ffmpeg':>8s} {'ratio':>7s}  frames ours/ffmpeg")
    ours_all, theirs_all = [], []
    for move in MOVES:
        ours, ours_frames = jitter(folder / f"ours_{move}.mp4", still, move)
        theirs, their_frames = jitter(folder / f"ffmpeg_{move}.mp4", still, move)
        ours_all.append(ours)
        theirs_all.append(theirs)
        lines.append(f"{move!s:10s} {ours:8.3f} {theirs:8.3f} {theirs / ours:6.1f}x  "
                     f"{ours_frames}/{their_frames}")  # fmt: skip
    mean_ours, mean_theirs = float(np.mean(ours_all)), float(np.mean(theirs_all))
    lines.append(
        f"{'mean':10s} {mean_ours:8.3f} {mean_theirs:8.3f} {mean_theirs / mean_ours:6.1f}x"
    )
    sizes = [
        sum((folder / f"{who}_{m}.mp4").stat().st_size for m in MOVES) for who in ("ours", "ffmpeg")
    ]
    lines += [
        "",
        f"output size, 6 clips: ours {sizes[0] / 1e6:.2f} MB, ffmpeg {sizes[1] / 1e6:.2f} MB",
        f"x264 in ours:   {x264_settings(folder / 'ours_push_in.mp4')}",
        f"x264 in ffmpeg: {x264_settings(folder / 'ffmpeg_push_in.mp4')}",
    ]
    return lines, (mean_ours, mean_theirs)


if __name__ == "__main__":
    raise SystemExit(main())
