"""The project-local cluster: where it lives, and a clear cause + fix for each way starting can go wrong."""

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from geoplatform import localdb

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="placement for a root-owned checkout")


@pytest.fixture
def data_dir_env(monkeypatch):
    """Point GEOPLATFORM_DATA_DIR at a folder; stop and remove any cluster made there afterwards."""
    made: list[Path] = []
    monkeypatch.delenv("DATABASE_URL", raising=False)

    def use(path: Path) -> Path:
        monkeypatch.setenv("GEOPLATFORM_DATA_DIR", str(path))
        made.append(path)
        return path

    yield use
    for path in made:
        monkeypatch.setenv("GEOPLATFORM_DATA_DIR", str(path))
        cluster = localdb.cluster()
        if localdb.is_running():
            localdb.stop(say=lambda _m: None)
        shutil.rmtree(cluster.root, ignore_errors=True)
        shutil.rmtree(path.parent if path.parent.name.startswith("gp-test-") else path, ignore_errors=True)


def reachable_dir() -> Path:
    path = Path("/var/tmp") / f"gp-test-{uuid.uuid4().hex[:8]}"
    path.mkdir(mode=0o755)
    return path / "data"


def query(sql: str) -> str:
    return localdb.psql(sql).strip()


@root_only
def test_cluster_inside_a_reachable_data_folder(data_dir_env):
    data = data_dir_env(reachable_dir())
    cluster = localdb.start(say=lambda _m: None)
    assert cluster.root == data / "postgres"
    assert query("SELECT postgis_lib_version()").startswith("3.")
    assert query("SELECT extname FROM pg_extension WHERE extname = 'pg_trgm'") == "pg_trgm"
    assert query("SHOW wal_buffers") == "128MB" and query("SHOW synchronous_commit") == "off"
    assert localdb.start(say=lambda _m: None) == cluster, "a second start is a no-op"


def test_settings_are_included_once_and_rewritten(tmp_path):
    """A cluster made by an older checkout (no include line, old settings) gets the current settings."""
    conf = tmp_path / "postgresql.conf"
    conf.write_text("port = 5432\nshared_buffers = 128MB\n")
    (tmp_path / "geoplatform.conf").write_text("wal_buffers = 16MB\n")
    localdb.write_settings(tmp_path)
    localdb.write_settings(tmp_path)
    assert conf.read_text().count(localdb.INCLUDE) == 1
    assert conf.read_text().rstrip().endswith(localdb.INCLUDE), "included last, so its values win"
    assert (tmp_path / "geoplatform.conf").read_text() == localdb.SETTINGS
    assert "wal_buffers = 128MB" in localdb.SETTINGS


@root_only
def test_cluster_moves_to_var_tmp_when_postgres_cannot_reach_the_checkout(data_dir_env, tmp_path):
    hidden = tmp_path / "private"
    hidden.mkdir(mode=0o700)
    os.chmod(tmp_path, 0o700)
    data_dir_env(hidden / "data")
    messages: list[str] = []
    cluster = localdb.start(say=messages.append)
    assert str(cluster.root).startswith("/var/tmp/geoplatform-")
    assert any("not reachable" in m for m in messages)
    assert query("SELECT 1") == "1"


@root_only
def test_stale_pid_file_is_removed_and_said(data_dir_env):
    data_dir_env(reachable_dir())
    cluster = localdb.start(say=lambda _m: None)
    localdb.stop(say=lambda _m: None)
    dead = subprocess.Popen(["true"])
    dead.wait()
    (cluster.pgdata / "postmaster.pid").write_text(f"{dead.pid}\n{cluster.pgdata}\n")
    messages: list[str] = []
    localdb.start(say=messages.append)
    assert any(f"stale {cluster.pgdata / 'postmaster.pid'}" in m for m in messages)
    assert query("SELECT 1") == "1"


@root_only
def test_data_folder_owned_by_another_user_names_the_fix(data_dir_env):
    data = data_dir_env(reachable_dir())
    pgdata = data / "postgres" / "pgdata"
    pgdata.mkdir(parents=True)
    shutil.chown(pgdata, "nobody")
    with pytest.raises(localdb.LocalDbError, match="belongs to nobody.*GEOPLATFORM_DATA_DIR"):
        localdb.start(say=lambda _m: None)


def test_missing_postgis_names_the_package_to_install(tmp_path):
    with pytest.raises(localdb.LocalDbError, match="apt-get install -y postgresql-99-postgis-3"):
        localdb._check_postgis_installed(Path("/usr/lib/postgresql/99/bin"))


def test_database_url_overrides_the_local_cluster(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://gis@db.example:5432/city")
    assert localdb.database_url() == "postgresql://gis@db.example:5432/city"
    assert localdb.start(say=lambda _m: None) is None
    assert "external database" in localdb.status()
