"""The project-local PostgreSQL/PostGIS cluster: where it lives, how to start it, how to reach it.

Used by ``scripts/run``, ``scripts/test`` and ``geoplatform db``. It imports nothing from
Django so it can run before the virtualenv has Django's settings ready. When
``DATABASE_URL`` is set the platform uses that database instead and this module only
reports it.

``initdb`` and ``postgres`` refuse to run as root, so as root the cluster belongs to
the ``postgres`` system user. That user must be able to traverse the whole path to
the data folder; when it cannot (a checkout under ``/root`` or in a ``mktemp -d``
folder), the cluster lives under ``/var/tmp`` instead, keyed by the checkout's path.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import shutil
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
DB_NAME = "geoplatform"
DB_USER = "postgres"
SOCKET_PORT = 5432  # with a socket-only server the port just names the socket file
MAX_SOCKET_PATH = 100


class LocalDbError(RuntimeError):
    """A problem with the local cluster, phrased as a cause and the fix."""


@dataclass(frozen=True)
class Cluster:
    root: Path  # folder holding pgdata/, run/ and the log
    owner: str  # the system user that runs postgres

    @property
    def pgdata(self) -> Path:
        return self.root / "pgdata"

    @property
    def socket_dir(self) -> Path:
        return self.root / "run"

    @property
    def logfile(self) -> Path:
        return self.root / "postgres.log"

    def url(self, dbname: str = DB_NAME) -> str:
        host = urllib.parse.quote(str(self.socket_dir), safe="")
        return f"postgresql://{DB_USER}@{host}:{SOCKET_PORT}/{dbname}"


def data_dir() -> Path:
    """The platform's data folder (cluster, secret key, uploads): inside the checkout by default."""
    return Path(os.environ.get("GEOPLATFORM_DATA_DIR") or CHECKOUT / ".data").resolve()


def _is_root() -> bool:
    return os.geteuid() == 0


def _owner_can_reach(path: Path, owner: str) -> bool:
    """True when ``owner`` can traverse every folder on the way to ``path``."""
    probe = path
    while not probe.exists():
        probe = probe.parent
    result = subprocess.run(["runuser", "-u", owner, "--", "test", "-x", str(probe)], capture_output=True)
    return result.returncode == 0


def cluster() -> Cluster:
    """Where the local cluster lives and who runs it."""
    base = data_dir()
    if not _is_root():
        return Cluster(base / "postgres", pwd.getpwuid(os.geteuid()).pw_name)
    owner = "postgres"
    preferred = Cluster(base / "postgres", owner)
    socket_ok = len(str(preferred.socket_dir)) + 20 < MAX_SOCKET_PATH
    if socket_ok and _owner_can_reach(base, owner):
        return preferred
    key = hashlib.sha256(str(base).encode()).hexdigest()[:12]
    return Cluster(Path("/var/tmp") / f"geoplatform-{key}", owner)


def pg_bindir() -> Path:
    """The PostgreSQL server binaries (not on PATH on Debian)."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise LocalDbError(
        "PostgreSQL server binaries not found; as root run: "
        "apt-get install -y postgresql-15 postgresql-15-postgis-3"
    )


def _check_postgis_installed(bindir: Path) -> None:
    version = bindir.parent.name
    control = Path(f"/usr/share/postgresql/{version}/extension/postgis.control")
    if not control.exists():
        raise LocalDbError(
            f"PostGIS is not installed for PostgreSQL {version}; as root run: "
            f"apt-get install -y postgresql-{version}-postgis-3"
        )


def _as_owner(c: Cluster, cmd: list[str]) -> list[str]:
    return ["runuser", "-u", c.owner, "--", *cmd] if _is_root() else cmd


def _run(c: Cluster, cmd: list[str], what: str) -> str:
    result = subprocess.run(_as_owner(c, cmd), capture_output=True, text=True)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise LocalDbError(f"{what} failed: {detail[-1] if detail else 'exit ' + str(result.returncode)}")
    return result.stdout


def _check_ownership(c: Cluster) -> None:
    if not c.pgdata.exists():
        return
    owner_uid = c.pgdata.stat().st_uid
    expected = pwd.getpwnam(c.owner).pw_uid
    if owner_uid != expected:
        try:
            name = pwd.getpwuid(owner_uid).pw_name
        except KeyError:
            name = f"uid {owner_uid}"
        raise LocalDbError(
            f"data folder {c.pgdata} belongs to {name}, but the server must run as {c.owner}: "
            f"run as {name}, or set GEOPLATFORM_DATA_DIR to another folder, or remove {c.pgdata}"
        )


def _remove_stale_pid(c: Cluster) -> str | None:
    pidfile = c.pgdata / "postmaster.pid"
    if not pidfile.exists():
        return None
    try:
        pid = int(pidfile.read_text().splitlines()[0])
    except (ValueError, IndexError):
        pid = -1
    if pid > 0 and Path(f"/proc/{pid}").exists():
        return None
    pidfile.unlink()
    return f"removed stale {pidfile} (server pid {pid} is not running)"


def _initdb(c: Cluster, bindir: Path, say) -> None:
    say(f"creating the local PostgreSQL cluster in {c.pgdata} (runs as {c.owner})")
    c.root.mkdir(parents=True, exist_ok=True)
    c.socket_dir.mkdir(exist_ok=True)
    if _is_root():
        shutil.chown(c.root, c.owner, c.owner)
        shutil.chown(c.socket_dir, c.owner, c.owner)
    os.chmod(c.root, 0o700)
    os.chmod(c.socket_dir, 0o700)
    _run(
        c,
        [str(bindir / "initdb"), "-D", str(c.pgdata), "-U", DB_USER, "--auth=trust",
         "-E", "UTF8", "--locale=C.UTF-8"],
        "initdb",
    )
    conf = c.pgdata / "postgresql.conf"
    extra = (
        "\n# geoplatform: socket-only server inside the project's data folder\n"
        "listen_addresses = ''\n"
        f"unix_socket_directories = '{c.socket_dir}'\n"
        f"port = {SOCKET_PORT}\n"
    )
    with conf.open("a") as fh:
        fh.write(extra)


# The local cluster's tuning, rewritten at every start so that clusters made by an older checkout get it too.
SETTINGS = (
    "# written by geoplatform at every start of the local cluster: edits here are lost\n"
    "synchronous_commit = off\n"
    "shared_buffers = 512MB\n"
    # web threads each hold Django's connection and one for big point tiles (ADBC)
    "max_connections = 200\n"
    # a 1% update of a 1M-row layer writes ~150 MB of WAL (mostly full-page images after a checkpoint): with the
    # default 16 MB the publishing backend writes the WAL out itself; 128 MB lets the WAL writer do it
    "wal_buffers = 128MB\n"
)
INCLUDE = "include_if_exists = 'geoplatform.conf'"


def write_settings(pgdata: Path, owner: str | None = None) -> None:
    """Write ``geoplatform.conf`` with SETTINGS and include it last from postgresql.conf (read at the next start)."""
    path = pgdata / "geoplatform.conf"
    path.write_text(SETTINGS)
    conf = pgdata / "postgresql.conf"
    if INCLUDE not in conf.read_text():
        with conf.open("a") as fh:
            fh.write(f"\n{INCLUDE}\n")
    if owner is not None and _is_root():
        shutil.chown(path, owner, owner)


def is_running() -> bool:
    c = cluster()
    if not c.pgdata.exists():
        return False
    result = subprocess.run(
        _as_owner(c, [str(pg_bindir() / "pg_ctl"), "-D", str(c.pgdata), "status"]), capture_output=True
    )
    return result.returncode == 0


def psql(sql: str, dbname: str = DB_NAME) -> str:
    """Run SQL on the local cluster as the superuser; returns psql's tuples-only output."""
    c = cluster()
    return _run(
        c,
        [str(pg_bindir() / "psql"), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", str(c.socket_dir),
         "-p", str(SOCKET_PORT), "-U", DB_USER, "-d", dbname, "-c", sql],
        "psql",
    )


def _ensure_database(say) -> None:
    for db in ("template1",):
        psql("CREATE EXTENSION IF NOT EXISTS postgis; CREATE EXTENSION IF NOT EXISTS pg_trgm;", db)
    exists = psql(f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}'", "postgres").strip()
    if not exists:
        say(f"creating database {DB_NAME} with PostGIS")
        psql(f"CREATE DATABASE {DB_NAME}", "postgres")
    psql("CREATE EXTENSION IF NOT EXISTS postgis; CREATE EXTENSION IF NOT EXISTS pg_trgm;")


def start(say=print) -> Cluster | None:
    """Create the cluster if needed, start it if stopped, make sure the database exists. Idempotent."""
    if os.environ.get("DATABASE_URL"):
        return None
    bindir = pg_bindir()
    _check_postgis_installed(bindir)
    c = cluster()
    if c.root != data_dir() / "postgres":
        say(f"note: {data_dir()} is not reachable by {c.owner}; the cluster lives in {c.root}")
    _check_ownership(c)
    if not (c.pgdata / "PG_VERSION").exists():
        if c.pgdata.exists() and any(c.pgdata.iterdir()):
            raise LocalDbError(f"{c.pgdata} exists but is not a PostgreSQL cluster: remove it and run again")
        _initdb(c, bindir, say)
    if not is_running():
        stale = _remove_stale_pid(c)
        if stale:
            say(stale)
        say(f"starting PostgreSQL (socket in {c.socket_dir}, log {c.logfile})")
        write_settings(c.pgdata, c.owner)
        c.socket_dir.mkdir(exist_ok=True)
        if _is_root():
            shutil.chown(c.socket_dir, c.owner, c.owner)
            if c.logfile.exists():
                shutil.chown(c.logfile, c.owner, c.owner)
        _run(c, [str(bindir / "pg_ctl"), "-D", str(c.pgdata), "-l", str(c.logfile), "-w", "-t", "60", "start"],
             f"starting PostgreSQL (see {c.logfile})")
    _wait_ready(c)
    _ensure_database(say)
    return c


def _wait_ready(c: Cluster, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = subprocess.run(
            [str(pg_bindir() / "pg_isready"), "-q", "-h", str(c.socket_dir), "-p", str(SOCKET_PORT)], capture_output=True
        )
        if result.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise LocalDbError(f"PostgreSQL did not become ready in {timeout:.0f}s; see {c.logfile}")
        time.sleep(0.2)


def stop(say=print) -> None:
    if os.environ.get("DATABASE_URL"):
        say("DATABASE_URL is set: the external database is not managed here")
        return
    c = cluster()
    if not is_running():
        say("PostgreSQL is not running")
        return
    _run(c, [str(pg_bindir() / "pg_ctl"), "-D", str(c.pgdata), "-m", "fast", "-w", "stop"], "stopping PostgreSQL")
    say("PostgreSQL stopped")


def database_url() -> str:
    """The libpq connection string of the database in use."""
    return os.environ.get("DATABASE_URL") or cluster().url()


def status() -> str:
    if os.environ.get("DATABASE_URL"):
        return f"external database (DATABASE_URL): {database_url()}"
    c = cluster()
    state = "running" if is_running() else ("stopped" if c.pgdata.exists() else "not created")
    return f"local cluster {state}: data {c.pgdata}, socket {c.socket_dir}, owner {c.owner}"


def main(argv: list[str]) -> int:
    """``geoplatform db start|stop|status|url``."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="geoplatform db",
        description="Manage the project-local PostgreSQL/PostGIS cluster (ignored when DATABASE_URL is set).",
    )
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("start", help="create (first time) and start the cluster; create the database and PostGIS")
    sub.add_parser("stop", help="stop the cluster")
    sub.add_parser("status", help="say where the cluster is and whether it runs")
    sub.add_parser("url", help="print the libpq connection string of the database in use")
    args = parser.parse_args(argv)
    try:
        if args.action == "start":
            start()
            print(status())
        elif args.action == "stop":
            stop()
        elif args.action == "status":
            print(status())
        else:
            print(database_url())
    except LocalDbError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
