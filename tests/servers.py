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


PG_BIN = max(Path("/usr/lib/postgresql").glob("*/bin"), default=Path("/usr/lib/postgresql/15/bin"),
             key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0)


class ThrowawayPostgres:
    """A PostgreSQL server of its own in a temporary directory (initdb, no fsync), holding a copy
    of the test database: `stop()` really stops it (fast shutdown: open connections are cut),
    `start()` brings it back. Runs as the `postgres` user when we are root (initdb refuses root)."""

    def __init__(self):
        self.folder = tempfile.mkdtemp(prefix="rcpg-")
        self.data = f"{self.folder}/data"
        self.port = free_port()
        if os.geteuid() == 0:
            import shutil

            shutil.chown(self.folder, "postgres")

    def _run(self, *args, **kwargs):
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run([*prefix, *args], cwd="/", check=True, capture_output=True, **kwargs)

    def init(self):
        self._run(f"{PG_BIN}/initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync")
        self.start()

    def start(self):
        self._run(f"{PG_BIN}/pg_ctl", "-D", self.data, "-w", "-l", f"{self.folder}/log", "-o",
                  f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off", "start")

    def stop(self):
        self._run(f"{PG_BIN}/pg_ctl", "-D", self.data, "-w", "-m", "fast", "stop")

    def copy_of(self, settings, name):
        """Database `name` here, with the schema and rows of the database `settings` names
        (owners and grants left out: everything here belongs to `postgres`)."""
        self._run(f"{PG_BIN}/createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        env = {**os.environ, "PGPASSWORD": settings["PASSWORD"] or ""}
        dump = subprocess.run([f"{PG_BIN}/pg_dump", "--no-owner", "--no-privileges", "-h", settings["HOST"],
                               "-p", str(settings["PORT"]), "-U", settings["USER"], settings["NAME"]],
                              check=True, capture_output=True, env=env)
        subprocess.run([f"{PG_BIN}/psql", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(self.port),
                        "-U", "postgres", "-d", name], input=dump.stdout, check=True, capture_output=True)

    def close(self):
        import shutil

        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(f"{PG_BIN}/pg_ctl", "-D", self.data, "-m", "immediate", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


@contextlib.contextmanager
def throwaway_postgres():
    server = ThrowawayPostgres()
    try:
        server.init()
        yield server
    finally:
        server.close()
