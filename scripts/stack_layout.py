"""``scripts/stack``: Reelforge's scale-out layout on one machine, supervised, until Ctrl-C.

In order, each ready before the next starts: PostgreSQL (a throwaway cluster of its own, unless
``REELFORGE_DATABASE_URL`` is set), an S3-compatible server (moto's, or MinIO; none when
``REELFORGE_STORE__S3__ENDPOINT`` names one), the provider emulator with ``--emulator``, the
API (``reelforge serve``) and the workers (``reelforge worker``). The commands are the same the
container image runs (``compose.yaml``); everything else is settings in the environment.
See docs/deploy.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shlex
import shutil
import signal
import socket
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from stack_supervisor import Crashed, Process, Supervisor

_LOOPBACK = "127.0.0.1"
_DATABASE = "reelforge"
_S3_KINDS = ("auto", "moto", "minio")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/stack",
        description="PostgreSQL, S3, the API and workers (and the emulator), until Ctrl-C.",
    )
    parser.add_argument("--host", default=_LOOPBACK, help="the API's address (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="the API's port (8000)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (2)")
    parser.add_argument("--emulator", action="store_true", help="also run reelforge emulate")
    parser.add_argument("--emulator-port", type=int, default=8910, help="its port (8910)")
    parser.add_argument("--s3", choices=_S3_KINDS, default="auto", help="S3 server to start")
    parser.add_argument(
        "--data",
        type=Path,
        help="folder for the cluster, the S3 files and each process's data_dir; kept and "
        "reused (default: a temporary folder, deleted at stop)",
    )
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    return args


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((_LOOPBACK, 0))
        port: int = probe.getsockname()[1]
    return port


def http_probe(url: str) -> asyncio.Future[bool]:
    def get() -> bool:
        with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 - our own URL
            return bool(answer.status < 500)

    return asyncio.ensure_future(asyncio.to_thread(get))


def command(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise Crashed(f"{name!r} is not on PATH (scripts/stack installs Reelforge's dev extras)")
    return found


async def run_quietly(argv: list[str], *, user: str | None = None) -> tuple[int, str]:
    extra: dict[str, object] = {"user": user, "group": user, "extra_groups": []} if user else {}
    child = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        **extra,  # type: ignore[arg-type]
    )
    output, _ = await child.communicate()
    return await child.wait(), output.decode(errors="replace")


# -- PostgreSQL --------------------------------------------------------------------------------


def postgres_bin() -> Path:
    """``PG_BIN``, else the newest ``/usr/lib/postgresql/*/bin``, else where ``initdb`` is."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    versions = Path("/usr/lib/postgresql").glob("*/bin")
    installed = sorted(versions, key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.name)])
    if installed:
        return installed[-1]
    found = shutil.which("initdb")
    if found is None:
        raise Crashed("PostgreSQL is not installed (no initdb); or set REELFORGE_DATABASE_URL")
    return Path(found).parent


async def start_postgres(stack: Supervisor, data: Path) -> str:
    """A cluster in ``data/postgres`` on a free port, with a ``reelforge`` database; its URL."""
    bin_dir = postgres_bin()
    # PostgreSQL refuses to run as root; it runs as the postgres user then.
    user = "postgres" if os.geteuid() == 0 else None
    folder = data / "postgres"
    if not (folder / "PG_VERSION").exists():
        folder.mkdir(parents=True, exist_ok=True)
        if user is not None:
            shutil.chown(folder, user, user)
        status, output = await run_quietly(
            [str(bin_dir / "initdb"), "-D", str(folder), "-U", "postgres", "--auth=trust",
             "-E", "UTF8", "--no-sync"],
            user=user,
        )  # fmt: skip
        if status != 0:
            raise Crashed(f"initdb failed (can user {user or 'you'} reach {folder}?):\n{output}")
    port = free_port()
    ready = [str(bin_dir / "pg_isready"), "-q", "-h", _LOOPBACK, "-p", str(port), "-U", "postgres"]

    async def accepting() -> bool:
        return (await run_quietly(ready))[0] == 0

    await stack.start(
        Process(
            "postgres",
            [str(bin_dir / "postgres"), "-D", str(folder), "-h", _LOOPBACK, "-p", str(port),
             "-k", str(folder), "-c", "max_connections=300"],
            env=dict(os.environ),
            ready=accepting,
            stop_signal=signal.SIGINT,  # PostgreSQL's fast shutdown
            user=user,
        )
    )  # fmt: skip
    status, output = await run_quietly(
        [str(bin_dir / "createdb"), "-h", _LOOPBACK, "-p", str(port), "-U", "postgres", _DATABASE]
    )
    if status != 0 and "already exists" not in output:
        raise Crashed(f"createdb failed:\n{output}")
    return f"postgresql+asyncpg://postgres@{_LOOPBACK}:{port}/{_DATABASE}"


# -- S3 ----------------------------------------------------------------------------------------


def s3_server_kind(wanted: str) -> str:
    if wanted != "auto":
        return wanted
    if shutil.which("moto_server"):
        return "moto"
    if shutil.which("minio"):
        return "minio"
    raise Crashed("no S3 server: install the dev extras (moto) or MinIO, or set "
                  "REELFORGE_STORE__S3__ENDPOINT")  # fmt: skip


async def start_s3(stack: Supervisor, data: Path, wanted: str) -> dict[str, str]:
    """The store's settings: an S3 server started here (with its bucket) or the one set."""
    settings = {"REELFORGE_STORE__KIND": "s3"}
    if os.environ.get("REELFORGE_STORE__S3__ENDPOINT"):
        stack.say("S3: the endpoint in REELFORGE_STORE__S3__ENDPOINT (its bucket must exist)")
        return settings
    access = os.environ.get("AWS_ACCESS_KEY_ID", "reelforge-stack")
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY", "reelforge-stack-secret")
    bucket = os.environ.get("REELFORGE_STORE__S3__BUCKET", _DATABASE)
    port = free_port()
    endpoint = f"http://{_LOOPBACK}:{port}"
    kind = s3_server_kind(wanted)
    env = dict(os.environ)
    if kind == "moto":
        argv = [command("moto_server"), "-H", _LOOPBACK, "-p", str(port)]
        probe = f"{endpoint}/"
    else:
        folder = data / "s3"
        folder.mkdir(parents=True, exist_ok=True)
        argv = [command("minio"), "server", str(folder), "--address", f"{_LOOPBACK}:{port}",
                "--console-address", f"{_LOOPBACK}:{free_port()}"]  # fmt: skip
        env |= {"MINIO_ROOT_USER": access, "MINIO_ROOT_PASSWORD": secret}
        probe = f"{endpoint}/minio/health/live"
    await stack.start(Process("s3", argv, env=env, ready=lambda: http_probe(probe)))
    await asyncio.to_thread(create_bucket, endpoint, bucket, access, secret)
    return settings | {
        "REELFORGE_STORE__S3__ENDPOINT": endpoint,
        "REELFORGE_STORE__S3__BUCKET": bucket,
        "REELFORGE_STORE__S3__ALLOW_HTTP": "true",
        "AWS_ACCESS_KEY_ID": access,
        "AWS_SECRET_ACCESS_KEY": secret,
    }


def create_bucket(endpoint: str, bucket: str, access: str, secret: str) -> None:
    try:
        import boto3  # the dev extras' client, needed only where a server is started
    except ImportError as missing:
        raise Crashed("creating the bucket needs boto3 (Reelforge's dev extras)") from missing
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=access,
        aws_secret_access_key=secret,
    )
    existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        client.create_bucket(Bucket=bucket)


# -- Reelforge ---------------------------------------------------------------------------------


async def emulator_settings(port: int) -> dict[str, str]:
    """What ``reelforge emulate --print-env`` prints: every provider pointed at the emulator."""
    argv = [command("reelforge"), "emulate", "--print-env", "--port", str(port)]
    status, output = await run_quietly(argv)
    if status != 0:
        raise Crashed(f"reelforge emulate --print-env failed:\n{output}")
    lines = [line.split("=", 1) for line in output.splitlines() if "=" in line]
    return {name: shlex.split(value)[0] for name, value in lines if name.isupper()}


def emulator_process(port: int) -> Process:
    base_url = f"http://{_LOOPBACK}:{port}"
    return Process(
        "emulator",
        [command("reelforge"), "emulate", "--port", str(port)],
        env=dict(os.environ),
        ready=lambda: http_probe(f"{base_url}/_emulator/config"),
    )


def reelforge_processes(
    args: argparse.Namespace, data: Path, settings: dict[str, str]
) -> list[Process]:
    """``reelforge serve`` and the ``reelforge worker`` processes: the commands the container
    image runs, with their settings in the environment."""
    reelforge = command("reelforge")
    api_env = os.environ | settings
    api_env |= {
        "REELFORGE_SERVER__HOST": args.host,
        "REELFORGE_SERVER__PORT": str(args.port),
        "REELFORGE_DATA_DIR": str(data / "api"),
    }
    health = f"{api_url(args)}/healthz"
    processes = [
        Process("api", [reelforge, "serve"], env=api_env, ready=lambda: http_probe(health))
    ]
    for number in range(1, args.workers + 1):
        name = f"worker-{number}"
        worker_env = os.environ | settings
        worker_env |= {
            "REELFORGE_ENGINE__EXECUTOR_ID": name,
            "REELFORGE_DATA_DIR": str(data / name),
        }
        # Its console line once its engine runs: what `reelforge worker` prints, not a log line.
        processes.append(
            Process(name, [reelforge, "worker"], env=worker_env, ready_line=" running (",
                    restart=True)
        )  # fmt: skip
    return processes


def api_url(args: argparse.Namespace) -> str:
    reach = _LOOPBACK if args.host in ("0.0.0.0", "::", "") else args.host  # noqa: S104
    return f"http://{reach}:{args.port}"


async def start_all(stack: Supervisor, args: argparse.Namespace, data: Path) -> None:
    """The database and the store first; then the Reelforge processes, all at once (every one
    migrates the catalog at start, under PostgreSQL's advisory lock)."""
    settings: dict[str, str] = {}
    database_url = os.environ.get("REELFORGE_DATABASE_URL")
    if database_url:
        if not database_url.startswith("postgresql"):
            raise Crashed("REELFORGE_DATABASE_URL must be PostgreSQL: workers need scale-out")
        stack.say("database: the one in REELFORGE_DATABASE_URL")
    else:
        settings["REELFORGE_DATABASE_URL"] = await start_postgres(stack, data)
    settings |= await start_s3(stack, data, args.s3)
    # Workers store the frames and write their URLs: the API's, not their own default port.
    # With the emulator the API's address is the public URL (the emulator calls it back); real
    # providers cannot reach a loopback address, so without it only the media base is set.
    public_url_set = any(os.environ.get(name) for name in ("REELFORGE_PUBLIC_URL", "SITE_URL"))
    if args.emulator and not public_url_set:
        settings["REELFORGE_PUBLIC_URL"] = api_url(args)
    elif not public_url_set and not os.environ.get("REELFORGE_STORE__PUBLIC_BASE_URL"):
        settings["REELFORGE_STORE__PUBLIC_BASE_URL"] = f"{api_url(args)}/media"
    processes: list[Process] = []
    if args.emulator:
        settings |= await emulator_settings(args.emulator_port)
        processes.append(emulator_process(args.emulator_port))
    processes += reelforge_processes(args, data, settings)
    await asyncio.gather(*(stack.start(process) for process in processes))


async def run(args: argparse.Namespace) -> int:
    throwaway = args.data is None
    data = Path(tempfile.mkdtemp(prefix="reelforge-stack-")) if throwaway else args.data
    data = data.resolve()
    data.mkdir(parents=True, exist_ok=True)
    if throwaway:
        data.chmod(0o711)  # the postgres user (when run as root) reaches its folder inside
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    stack = Supervisor()

    def on_signal() -> None:
        if stop.is_set():
            stack.say("stopping already; killing what is left")
            stack.hurry()
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal)
    stopped = asyncio.ensure_future(stop.wait())
    startup = asyncio.ensure_future(start_all(stack, args, data))
    reason: str | None = None
    try:
        first: set[asyncio.Future[Any]] = {startup, stopped, stack.crashed}
        await asyncio.wait(first, return_when=asyncio.FIRST_COMPLETED)
        if stack.crashed.done():
            reason = stack.crashed.result()
        elif startup.done():
            startup.result()
            base_url = api_url(args)
            auth = "" if os.environ.get("REELFORGE_AUTH__TOKENS") else (
                " (auth is on and REELFORGE_AUTH__TOKENS is empty: set a token)")  # fmt: skip
            stack.say(f"ready: API {base_url}{auth}, {args.workers} workers, data in {data}; "
                      "Ctrl-C stops everything")  # fmt: skip
            rest: set[asyncio.Future[Any]] = {stopped, stack.crashed}
            await asyncio.wait(rest, return_when=asyncio.FIRST_COMPLETED)
            if stack.crashed.done():
                reason = stack.crashed.result()
    except Crashed as crash:
        reason = str(crash)
    finally:
        startup.cancel()
        with contextlib.suppress(asyncio.CancelledError, Crashed):
            await startup
        if reason is not None:
            stack.say(f"{reason}; stopping the stack")
        await stack.stop()
        stopped.cancel()
        if throwaway:
            shutil.rmtree(data, ignore_errors=True)
        stack.say("stopped")
    return 1 if reason is not None else 0


def main() -> None:
    sys.exit(asyncio.run(run(parse_args(sys.argv[1:]))))


if __name__ == "__main__":
    main()
