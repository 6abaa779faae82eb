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
