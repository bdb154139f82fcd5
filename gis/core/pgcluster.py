"""The project's own PostgreSQL + PostGIS cluster, used when DATABASE_URL is unset."""

# Why an embedded cluster: a newcomer (and CI) starts from a machine with the PostgreSQL
# binaries but no server running. We keep a private cluster under `var/pg` so that
# `make run` and `make test` need nothing but the two commands. It listens on a unix socket
# inside `var/` and on a free loopback TCP port; the superuser `gridgov` authenticates with a
# generated password over TCP (stored 0600 in the cluster folder). initdb refuses to run as
# root, so as root every server command runs as the `postgres` system user, and the cluster
# folder belongs to it. When the project folder is not reachable by that user (a clone under
# /root, say), the data lives in /var/lib/gridgov/<hash> and `var/pg` points there.
from __future__ import annotations

import glob
import hashlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg

from gis.core.clock import DEFAULT_ZONE
from gis.core.errors import DatabaseUnavailable, SetupRequired

SUPERUSER = "gridgov"
DATABASE = "gridgov"
MIN_PG_MAJOR = 13


def project_root() -> Path:
    """The checkout this package runs from (where `var/` lives)."""
    return Path(__file__).resolve().parents[2]


def var_dir() -> Path:
    """Where the embedded cluster and other local state live (GRIDGOV_VAR overrides `var/`)."""
    return Path(os.environ.get("GRIDGOV_VAR") or project_root() / "var")


def find_bindir() -> Path:
    """The newest PostgreSQL server binary folder on this machine."""
    candidates = []
    for pg_ctl in glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"):
        try:
            candidates.append((int(Path(pg_ctl).parts[-3]), Path(pg_ctl).parent))
        except ValueError:
            continue
    if candidates:
        return max(candidates)[1]
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    raise SetupRequired(
        "PostgreSQL server binaries not found",
        "Install the server and PostGIS: apt-get update && apt-get install -y postgresql postgresql-15-postgis-3 "
        "(or set DATABASE_URL to an existing PostGIS database).",
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # As PostgreSQL does: connections in TIME_WAIT from a previous run do not block the port.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _pid_alive_postgres(pid: int) -> bool:
    """True when `pid` is a running postgres process (not a recycled pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"postgres" in cmdline


@dataclass
class Status:
    """What `gridgov db status` reports."""

    initialised: bool
    running: bool
    pid: int | None
    port: int | None
    datadir: Path
    url: str | None

    def describe(self) -> str:
        """A human line about the cluster."""
        if not self.initialised:
            return f"no cluster yet at {self.datadir} (run: gridgov db up)"
        state = f"running (pid {self.pid}) on 127.0.0.1:{self.port}" if self.running else "stopped"
        return f"embedded PostGIS at {self.datadir}: {state}"


class Cluster:
    """A private PostgreSQL cluster living in `<root>/pg`."""

    def __init__(self, root: Path | str | None = None, *, fast: bool = False, timezone: str = DEFAULT_ZONE):
        self.root = Path(root) if root else var_dir()
        self.link = self.root / "pg"
        # `fast` trades durability for speed: for throwaway test clusters only.
        self.fast = fast
        # The server's own zone, for psql and other clients: the district's by default. gridgov's
        # own connections set the district's zone themselves (gis.core.clock), whatever this is.
        self.timezone = timezone

    # -- paths -------------------------------------------------------------------------
    @property
    def home(self) -> Path:
        """The real folder holding the cluster (follows the `var/pg` link)."""
        return self.link.resolve() if self.link.is_symlink() else self.link

    @property
    def datadir(self) -> Path:
        return self.home / "data"

    @property
    def sockdir(self) -> Path:
        path = self.home / "run"
        # Unix socket paths are limited to ~107 bytes; a deep checkout puts the socket in /tmp.
        if len(str(path)) > 80:
            return Path("/tmp") / ("gridgov-" + hashlib.sha1(str(path).encode()).hexdigest()[:12])
        return path

    @property
    def logfile(self) -> Path:
        return self.home / "server.log"

    def _read(self, name: str) -> str | None:
        try:
            return (self.home / name).read_text().strip()
        except OSError:
            return None

    @property
    def port(self) -> int | None:
        value = self._read("port")
        return int(value) if value else None

    @property
    def password(self) -> str | None:
        return self._read("password")

    def url(self, database: str = DATABASE) -> str:
        """The SQLAlchemy URL of a database in this cluster."""
        if not self.port or not self.password:
            raise DatabaseUnavailable(
                "The embedded database has not been set up",
                "Run `gridgov db up` (or `make run`), or set DATABASE_URL.",
            )
        return (
            f"postgresql+psycopg://{SUPERUSER}:{quote(self.password, safe='')}"
            f"@127.0.0.1:{self.port}/{database}"
        )

    # -- running commands as the right user ----------------------------------------------
    @property
    def _as_root(self) -> bool:
        return os.geteuid() == 0

    def _run(self, args: list[str], *, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        if self._as_root:
            args = ["runuser", "-u", "postgres", "--", *args]
        return subprocess.run(args, capture_output=True, text=True, check=False, timeout=timeout,
                              cwd="/")

    def _chown(self, path: Path) -> None:
        if self._as_root:
            pw = pwd.getpwnam("postgres")
            for p in [path, *path.rglob("*")]:
                os.lchown(p, pw.pw_uid, pw.pw_gid)

    def _reachable_by_postgres(self, path: Path) -> bool:
        probe = subprocess.run(["runuser", "-u", "postgres", "--", "test", "-w", str(path)],
                               capture_output=True, check=False)
        return probe.returncode == 0

    # -- state -----------------------------------------------------------------------------
    def _pid(self) -> int | None:
        try:
            first = (self.datadir / "postmaster.pid").read_text().splitlines()[0]
            return int(first)
        except (OSError, ValueError, IndexError):
            return None

    def status(self) -> Status:
        """Whether the cluster exists and runs."""
        initialised = (self.datadir / "PG_VERSION").exists()
        pid = self._pid()
        running = bool(pid and _pid_alive_postgres(pid))
        url = self.url() if initialised and self.port and self.password else None
        return Status(initialised, running, pid if running else None, self.port, self.datadir, url)

    # -- lifecycle -------------------------------------------------------------------------
    def _prepare_home(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.link.exists() or self.link.is_symlink():
            return
        if self._as_root:
            self.link.mkdir(mode=0o700)
            self._chown(self.link)
            if not self._reachable_by_postgres(self.link):
                # The checkout sits where `postgres` cannot go (e.g. under /root).
                self.link.rmdir()
                digest = hashlib.sha1(str(self.root).encode()).hexdigest()[:12]
                target = Path("/var/lib/gridgov") / digest
                target.mkdir(parents=True, mode=0o700, exist_ok=True)
                self._chown(target)
                self.link.symlink_to(target)
        else:
            self.link.mkdir(mode=0o700)

    def init(self) -> None:
        """Create the cluster (initdb) if it does not exist yet."""
        if (self.datadir / "PG_VERSION").exists():
            return
        bindir = find_bindir()
        self._prepare_home()
        home = self.home
        password = secrets.token_urlsafe(24)
        pwfile = home / "password"
        pwfile.write_text(password + "\n")
        os.chmod(pwfile, 0o600)
        (home / "port").write_text(f"{free_port()}\n")
        self.sockdir.mkdir(mode=0o700, exist_ok=True)
        self._chown(home)
        result = self._run([
            str(bindir / "initdb"), "-D", str(self.datadir), "-U", SUPERUSER,
            "--pwfile", str(pwfile), "-E", "UTF8", "--locale", "C.UTF-8",
            "--auth-local", "trust", "--auth-host", "scram-sha-256",
        ])
        if result.returncode != 0:
            shutil.rmtree(self.datadir, ignore_errors=True)
            raise DatabaseUnavailable("initdb failed", result.stderr.strip() or result.stdout.strip())
        with open(self.datadir / "postgresql.conf", "a") as conf:
            conf.write("\n# gridgov embedded cluster\nlisten_addresses = '127.0.0.1'\n")
            conf.write(f"unix_socket_directories = '{self.sockdir}'\n")
            conf.write("max_connections = 200\nshared_buffers = 256MB\nwork_mem = 32MB\n")
            conf.write("maintenance_work_mem = 256MB\nmax_wal_size = 2GB\n")
            if self.fast:
                conf.write("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
        self._chown(self.datadir / "postgresql.conf")

    def _clear_stale_pid(self) -> None:
        """Remove a postmaster.pid (and socket lock) left behind by a crash."""
        pidfile = self.datadir / "postmaster.pid"
        pid = self._pid()
        if pidfile.exists() and not (pid and _pid_alive_postgres(pid)):
            pidfile.unlink()
            for lock in self.sockdir.glob(".s.PGSQL.*"):
                lock.unlink(missing_ok=True)

    def start(self) -> None:
        """Start the server, choosing another free port if ours was taken."""
        self._clear_stale_pid()
        if self.status().running:
            return
        if not self.sockdir.exists():
            self.sockdir.mkdir(mode=0o700)
            self._chown(self.sockdir)
        port = self.port
        if not port or not _port_is_free(port):
            port = free_port()
            (self.home / "port").write_text(f"{port}\n")
        bindir = find_bindir()
        result = self._run([
            str(bindir / "pg_ctl"), "-D", str(self.datadir), "-l", str(self.logfile),
            "-o", f"-p {port} -c timezone={self.timezone} -c log_timezone={self.timezone}",
            "-w", "-t", "60", "start",
        ])
        if result.returncode != 0:
            tail = ""
            try:
                tail = "\n".join(self.logfile.read_text().splitlines()[-10:])
            except OSError:
                pass
            raise DatabaseUnavailable("The embedded PostgreSQL did not start",
                                      f"{result.stderr.strip()}\n{tail}".strip())

    def ensure_database(self, name: str = DATABASE) -> None:
        """Create the database with PostGIS if it does not exist."""
        with psycopg.connect(self.url("postgres").replace("+psycopg", ""), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')
        with psycopg.connect(self.url(name).replace("+psycopg", ""), autocommit=True) as conn:
            available = conn.execute(
                "SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'").fetchone()
            if not available:
                raise SetupRequired(
                    "PostGIS is not installed for this PostgreSQL server",
                    f"As root run: apt-get update && apt-get install -y postgresql-{find_bindir().parts[-2]}-postgis-3",
                )
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")

    def up(self) -> Status:
        """Initialise if needed, start, and make sure the database and PostGIS exist."""
        self.init()
        self.start()
        self.ensure_database()
        return self.status()

    def down(self) -> None:
        """Stop the server cleanly (fast shutdown: sessions are ended, data is flushed)."""
        self._clear_stale_pid()
        if not self.status().running:
            return
        result = self._run([str(find_bindir() / "pg_ctl"), "-D", str(self.datadir), "-m", "fast",
                            "-w", "-t", "60", "stop"])
        if result.returncode != 0 and self.status().running:
            raise DatabaseUnavailable("The embedded PostgreSQL did not stop", result.stderr.strip())

    def destroy(self) -> None:
        """Stop and delete the cluster and its data."""
        self.down()
        home = self.home
        shutil.rmtree(home, ignore_errors=True)
        if self.link.is_symlink():
            self.link.unlink()

    def psql_command(self, database: str = DATABASE) -> list[str]:
        """The argv that opens psql on a database of this cluster."""
        psql = shutil.which("psql") or str(find_bindir() / "psql")
        return [psql, "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, database]
