"""The crash harness's engine process: the engine in a role, the API too if asked (webhooks),
and the rounds of runs the harness asks for. The harness kills it with ``kill -9`` and starts
a new one, which finishes the work.

Settings come from the environment (``fixtures.crash_procs``). ``--serve`` serves the API on
``server.port``, so that providers' webhooks reach this process. ``--ready FILE`` is written
once the engine is up (and the API, with ``--serve``). With ``--requests DIR`` the process
watches DIR for ``round-N.json`` (``{"round", "providers", "frames"}``): it starts one run per
provider (storing the input image first, once) and writes ``{provider: run_id}`` as JSON to
``round-N.runs``. The harness kills nothing while a request has no answer yet.

    python tests/crash/crash_runner.py --role api --serve --ready R --requests DIR

``--fork-server`` is how the harness starts them: this process imports everything once, then
reads one JSON line per engine process to start (``{"args", "env", "log"}``) on stdin, forks a
child that runs it, and answers the child's pid on stdout. Each engine process is still a new
process, killed with SIGKILL; a restart just costs the engine's start and not Python's imports
(some 6 s of CPU on the harness's 2-core machine). The server holds no thread, event loop or
connection when it forks, and it reaps its children itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import signal
import sys
from pathlib import Path

import uvicorn
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixtures.crash_plan import job_specs, provider
from reelforge.api.app import create_app
from reelforge.engine.config import EngineRole
from reelforge.engine.specs import WaitPolicy
from reelforge.errors import NotFound
from reelforge.log import configure_logging
from reelforge.services import Services, open_services
from reelforge.settings import Settings

_IMAGE_KEY = "crash/input-frame.png"
_BACKGROUND: set[asyncio.Task[None]] = set()


def _write(path: Path, text: str) -> None:
    """Whole or not at all: the harness never reads half a file."""
    staging = path.with_name(path.name + ".tmp")
    staging.write_text(text)
    staging.replace(path)


async def _input_image(services: Services) -> str:
    """The asset Runway's image_to_video starts from (stored once, found again after that)."""
    with contextlib.suppress(NotFound):
        return (await services.catalog.assets.get_by_key(_IMAGE_KEY)).id
    buffer = io.BytesIO()
    Image.new("RGB", (1280, 720), (70, 110, 150)).save(buffer, "PNG")
    record = await services.assets.ingest_bytes(buffer.getvalue(), key=_IMAGE_KEY, source="upload")
    return record.id


async def _start_round(services: Services, request: Path) -> None:
    assert services.engine is not None
    asked = json.loads(request.read_text())
    round_no, providers, frames = asked["round"], asked["providers"], asked["frames"]
    image = None
    if any(provider(p).needs_image for p in providers):
        image = await _input_image(services)
    runs = {}
    for provider_id in providers:
        runs[provider_id] = await services.engine.start_run(
            "crash",
            job_specs(provider_id, round_no, frames, image),
            wait=WaitPolicy(poll_interval_s=0.25),
            input={"round": round_no, "provider": provider_id},
        )
    _write(request.with_suffix(".runs"), json.dumps(runs))


async def _answer_requests(services: Services, folder: Path) -> None:
    while True:
        for request in sorted(folder.glob("round-*.json")):
            if not request.with_suffix(".runs").exists():
                await _start_round(services, request)
        await asyncio.sleep(0.05)


async def main(args: argparse.Namespace) -> None:
    settings = Settings()
    configure_logging(settings.log_level)
    role: EngineRole = args.role
    async with open_services(settings, engine=role, environ=None) as services:
        if args.serve:
            await _serve(services, settings.server.port)
        if args.ready is not None:
            _write(args.ready, "ready")
        if args.requests is not None:
            await _answer_requests(services, args.requests)
        # Until killed: the harness ends every engine process with a signal.
        await asyncio.Event().wait()


async def _serve(services: Services, port: int) -> None:
    """The API on loopback (in the background), once it accepts connections."""
    config = uvicorn.Config(
        create_app(services), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    _BACKGROUND.add(serving)
    while not server.started:
        if serving.done():
            serving.result()
        await asyncio.sleep(0.02)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", choices=["api", "worker"], default="api")
    parser.add_argument("--serve", action="store_true")
    parser.add_argument("--ready", type=Path)
    parser.add_argument("--requests", type=Path)
    parser.add_argument("--fork-server", action="store_true")
    return parser


def fork_server() -> None:
    """Fork one engine process per line on stdin; answer each pid on stdout."""
    # Children are reaped by the kernel: a killed one leaves no zombie, and its pid goes away.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    for line in sys.stdin:
        order = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(order["args"], order["env"], order["log"])
        print(pid, flush=True)


def _child(args: list[str], env: dict[str, str], log: str) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.environ.clear()
    os.environ.update(env)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    code = 0
    try:
        asyncio.run(main(_parser().parse_args(args)))
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    parsed = _parser().parse_args()
    if parsed.fork_server:
        fork_server()
    else:
        asyncio.run(main(parsed))
