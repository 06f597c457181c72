"""Import each module named on the command line as the first Reelforge module of a process.

One interpreter loads the third-party packages once, then forks a child per module: the child
starts with no ``reelforge`` module loaded and no registration made (DBOS's function registry is
per process), like a fresh interpreter, without paying for Python and the dependencies again.
Prints one line per module that failed, ``name: last line of the traceback``.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import traceback


def _third_party_loaded_by(names: list[str]) -> list[str]:
    """The non-Reelforge modules that importing ``names`` loads, found in a throwaway child."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        for name in names:
            with contextlib.suppress(BaseException):  # the real run below reports it
                importlib.import_module(name)
        loaded = "\n".join(m for m in sys.modules if not m.startswith("reelforge"))
        with os.fdopen(write, "w") as out:
            out.write(loaded)
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        found = pipe.read().split()
    os.waitpid(pid, 0)
    return found


def _import_alone(name: str) -> str | None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            importlib.import_module(name)
            message = ""
        except BaseException:  # any failure is the finding
            message = traceback.format_exc().strip().splitlines()[-1]
        with os.fdopen(write, "w") as out:
            out.write(message)
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        message = pipe.read()
    _, status = os.waitpid(pid, 0)
    if message:
        return f"{name}: {message}"
    if status != 0:
        return f"{name}: the importing process ended with status {status}"
    return None


def main(names: list[str]) -> int:
    for module in _third_party_loaded_by(names):
        with contextlib.suppress(BaseException):  # some load only after another module
            importlib.import_module(module)
    leaked = sorted(m for m in sys.modules if m.startswith("reelforge"))
    if leaked:
        print(f"preloading loaded Reelforge modules: {leaked}")
        return 1
    failures = [failure for failure in map(_import_alone, names) if failure is not None]
    print("\n".join(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
