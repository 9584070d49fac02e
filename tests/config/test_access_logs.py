"""The web servers' own access logs mask the client secret that Stripe.js puts in the Payment
Element's return URL, as the project's log filter does for its own lines. Both servers run for
real on a loopback port: Django's dev server (what `scripts/run` starts) and gunicorn (production,
with the project's gunicorn.conf.py)."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SECRET = "pi_3QaccessLOG_secret_Zq9x7Yw"
# The Payment Element's return URL as Stripe.js builds it (any page of ours will do).
QUERY = f"payment_intent=pi_3QaccessLOG&payment_intent_client_secret={SECRET}&redirect_status=succeeded"
RETURN_URL = f"/favicon.ico?{QUERY}"
LOGGED = "GET /favicon.ico?payment_intent=pi_3QaccessLOG&payment_intent_client_secret=[redacted]"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[[list[str], int], str]]:
    """Start a web server command on a free port, return a function that requests the return URL
    and gives back what the server logged."""
    started: list[subprocess.Popen[bytes]] = []
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        # Neither server needs the database for this page; SQLite keeps start-up checks quiet.
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "PYTHONUNBUFFERED": "1",
    }

    def run(command: list[str], port: int) -> str:
        log_path = tmp_path / "server.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        started.append(process)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}{RETURN_URL}",
            headers={"Referer": f"http://127.0.0.1:{port}{RETURN_URL}"},
        )
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log_path.read_text()
            try:
                with urllib.request.urlopen(request, timeout=2) as response:
                    assert response.status == 200
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        # The line is written once the answer is out; give the server a moment.
        deadline = time.monotonic() + 5
        while "favicon.ico" not in log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        return log_path.read_text()

    yield run
    for process in started:
        process.terminate()
        process.wait(timeout=10)


def test_the_dev_server_access_log_masks_client_secrets(serve: Callable[[list[str], int], str]) -> None:
    port = _free_port()
    command = [
        str(BIN / "python"),
        "manage.py",
        "runserver",
        "--noreload",
        "--skip-checks",
        f"127.0.0.1:{port}",
    ]
    log = serve(command, port)
    assert f'"{LOGGED}' in log
    assert "_secret_" not in log


def test_gunicorns_access_log_masks_client_secrets(serve: Callable[[list[str], int], str]) -> None:
    port = _free_port()
    command = [
        str(BIN / "gunicorn"),
        "config.wsgi:application",
        "--workers=1",
        f"--bind=127.0.0.1:{port}",
        "--access-logfile=-",
    ]
    log = serve(command, port)
    assert LOGGED in log
    assert "_secret_" not in log  # neither in the request line nor in the Referer
