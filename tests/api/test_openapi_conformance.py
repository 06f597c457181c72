"""The published OpenAPI document against the API itself: schemathesis over real HTTP.

``reelforge serve`` runs in a child process on loopback (the composition root as deployed: the
job engine in the API's process, SQLite, the offline local provider, bearer auth on), and
schemathesis sends every documented operation requests made from the document, positive and
negative: its examples, its coverage cases (each bound, each enum, each missing field), and a
few fuzzed ones. Every answer must be no server error (5xx) and must be what the document
says: a documented status code, the documented content type, a body of the documented schema,
and documented headers. Negative requests must be refused, a route behind the token must refuse
a request without it, and an undeclared method must get 405 with ``Allow``.

Generation is derandomized and bounded (:data:`MAX_EXAMPLES` fuzzed cases an operation), so CI
sees the same requests every time; schemathesis names each failing case with a ``curl`` line to
replay it.

Requests that would wait for work use no wait: the waits are set to 0 in the server's settings
and a generated ``wait_s`` is sent as 0, so work is answered as started (``202``) and carries on
in the server's engine with the local provider.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fixtures.engine import processes
from fixtures.server import loopback_socket

TOKEN = "conformance-token-4b1e"
MAX_EXAMPLES = 8
REQUEST_TIMEOUT_S = 60

#: What every answer is checked for. Not ``positive_data_acceptance``: a request the document
#: allows may still be refused with a documented 400 by rules no schema states (a provider or
#: feature that is not configured here, a game session's two-part scope id, 6-12 frames a
#: storyboard as the settings say, media that is not a photo).
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
    "missing_required_header",
    "unsupported_method",
    "ignored_auth",
)
TESTS_PATH = str(Path(__file__).resolve().parents[1])

#: Operations not called, each with its reason. Everything else in the document is.
EXCLUDED = {
    # A live stream that stays open while the session lives (pings every 15 s): a request with
    # valid ids never ends. Documented as text/event-stream (test_sse_routes_are_event_streams).
    ("GET", "/api/media/sse"): "a live event stream with no end",
}

#: The server's settings (besides its folder and port): waits off, auth on.
SERVER_ENV = {
    "REELFORGE_AUTH__ENABLED": "true",
    "REELFORGE_AUTH__TOKENS": f'["{TOKEN}"]',
    "REELFORGE_KEYFRAMES__WAIT_S": "0",
    "REELFORGE_CHARACTERS__WAIT_S": "0",
    "REELFORGE_INGEST__ALLOWED_HOSTS": "[]",
    "REELFORGE_LOG_LEVEL": "warning",
}


@pytest.fixture
def served_api(tmp_path: Path) -> Iterator[str]:
    """``reelforge serve`` on a free loopback port; its base URL."""
    sock = loopback_socket()
    port = sock.getsockname()[1]
    sock.close()
    env = dict(os.environ)
    env.update(SERVER_ENV)
    env["REELFORGE_DATA_DIR"] = str(tmp_path / "data")
    with processes(tmp_path, env) as group:
        serve = ("-m", "reelforge", "serve", "--host", "127.0.0.1", "--port", str(port))
        child = group.start("api", *serve)
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            if child.poll() is not None:
                pytest.fail(f"reelforge serve exited:\n{group.log('api')}")
            try:
                if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"reelforge serve did not start:\n{group.log('api')}")
            time.sleep(0.2)
        yield base_url


def test_the_api_does_what_its_document_says(served_api: str, tmp_path: Path) -> None:
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "api.openapi_hooks", "PYTHONPATH": TESTS_PATH}
    command = [
        str(Path(sys.executable).with_name("st")),
        "run",
        f"{served_api}/openapi.json",
        "--header",
        f"Authorization: Bearer {TOKEN}",
        "--checks",
        ",".join(CHECKS),
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--generation-deterministic",
        "--request-timeout",
        str(REQUEST_TIMEOUT_S),
        # One worker: hypothesis describing strategies in two threads at once trips CPython
        # 3.11's ast.parse ("AST constructor recursion depth mismatch").
        "--workers",
        "1",
        "--continue-on-failure",
        "--no-color",
        *[option for method, path in EXCLUDED for option in ("--exclude-path", path)],
    ]
    finished = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True)
    report = finished.stdout + finished.stderr
    (tmp_path / "schemathesis.txt").write_text(report)
    sections = [report.find(title) for title in ("= ERRORS =", "= FAILURES =")]
    start = min((at for at in sections if at >= 0), default=0)
    assert finished.returncode == 0, report[start : start + 30_000]
