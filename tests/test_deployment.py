"""docker-compose.yml cannot run here (no Docker engine), so it is checked by reading it."""

import importlib
import re
from pathlib import Path

import yaml

from geoplatform.cli import VERBS

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_stack_has_the_deployment_services():
    assert {"postgis", "web", "worker", "tiles", "objectstore", "proxy"} <= set(COMPOSE["services"])


def test_app_commands_name_real_verbs_and_modules():
    for name in ("web", "migrate", "worker"):
        command = COMPOSE["services"][name]["command"]
        assert command[0] == "geoplatform" and command[1] in VERBS
    tiles = COMPOSE["services"]["tiles"]["command"]
    module, attr = tiles[tiles.index("uvicorn") + 1].split(":")
    assert hasattr(importlib.import_module(module), attr)


def test_apps_use_the_postgis_service_not_a_local_cluster():
    url = COMPOSE["services"]["web"]["environment"]["DATABASE_URL"]
    assert "@postgis:5432/" in url


def test_proxy_upstreams_are_services_and_config_is_mounted():
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    for host, port in re.findall(r"server (\w+):(\d+);", conf):
        assert host in COMPOSE["services"]
        assert port in " ".join(COMPOSE["services"][host]["command"])
    assert any("deploy/nginx.conf" in v for v in COMPOSE["services"]["proxy"]["volumes"])


def test_dockerfile_copies_files_that_exist():
    dockerfile = (ROOT / "Dockerfile").read_text()
    for path in ("package.json", "package-lock.json", "requirements.lock"):
        assert path in dockerfile and (ROOT / path).exists()


def test_app_services_keep_imagery_in_the_objectstore_bucket():
    """web (ingest over HTTP), worker and the tile replicas read the one configuration tiles.storage reads."""
    minio = COMPOSE["services"]["objectstore"]
    bucket_job = COMPOSE["services"]["objectstore-bucket"]
    for name in ("web", "worker", "tiles"):
        env = COMPOSE["services"][name]["environment"]
        host, port = env["AWS_S3_ENDPOINT"].split(":")
        assert host == "objectstore" and f":{port}" in minio["command"]
        assert (env["AWS_HTTPS"], env["AWS_VIRTUAL_HOSTING"]) == ("NO", "FALSE")  # MinIO: plain HTTP, path style
        assert env["AWS_ACCESS_KEY_ID"] == minio["environment"]["MINIO_ROOT_USER"]
        assert env["AWS_SECRET_ACCESS_KEY"] == minio["environment"]["MINIO_ROOT_PASSWORD"]
        assert env["GEOPLATFORM_IMAGERY_S3_BUCKET"] == bucket_job["environment"]["S3_BUCKET"]
        assert env["GEOPLATFORM_IMAGERY_S3_PREFIX"]
        assert COMPOSE["services"][name]["depends_on"]["objectstore-bucket"]["condition"] == \
            "service_completed_successfully"
    assert "mc mb --ignore-existing" in " ".join(bucket_job["entrypoint"])


def test_compose_names_the_settings_the_code_reads():
    from tiles import conf, storage

    env = COMPOSE["services"]["tiles"]["environment"]
    code = Path(conf.__file__).read_text() + Path(storage.__file__).read_text()
    for name in env:
        if name.startswith(("GEOPLATFORM_IMAGERY_", "AWS_")):
            assert name in code, f"docker-compose.yml sets {name}, which nothing reads"
