"""Real servers for multi-process tests: gunicorn with several workers on the test database, and
a throwaway Redis. Both listen on loopback only and are stopped when the test ends."""

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[1]
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
REDIS_SERVER = "/usr/bin/redis-server"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_env():
    """The test database, for another process (PostgreSQL URL, or the SQLite test file)."""
    settings = connection.settings_dict
    if connection.vendor == "postgresql":
        url = (f"postgres://{settings['USER']}:{settings['PASSWORD'] or ''}@{settings['HOST']}:{settings['PORT']}"
               f"/{settings['NAME']}")
    else:
        url = f"sqlite:///{settings['NAME']}"
    return {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings.test"}


def _wait_for(check, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server did not start in time")


@contextlib.contextmanager
def gunicorn(env, *, workers=2):
    """Yields (base_url, access_log_path); each access log line is '<worker pid> <status>'."""
    port = free_port()
    folder = tempfile.TemporaryDirectory(prefix="rc-gunicorn-")
    log = Path(folder.name) / "access.log"
    process = subprocess.Popen(
        [GUNICORN, "config.wsgi", "-w", str(workers), "-b", f"127.0.0.1:{port}", "--access-logfile", str(log),
         "--access-logformat", "%(p)s %(s)s", "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(lambda: urllib.request.urlopen(f"{base}/healthz", timeout=2).status == 200)
        yield base, log
    finally:
        process.terminate()
        process.wait(timeout=20)
        folder.cleanup()


@contextlib.contextmanager
def redis_server():
    """A throwaway Redis (Debian's redis-server) with no persistence; yields its URL."""
    port = free_port()
    process = subprocess.Popen([REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def ping():
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        _wait_for(ping)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)
