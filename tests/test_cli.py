"""The geoplatform command: help on every verb, departments and keys, the key printed last."""

import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from catalog.keys import verify_api_key
from catalog.models import Department
from geoplatform.cli import VERBS


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "geoplatform.cli", *args], capture_output=True, text=True,
                          timeout=120)


def test_top_level_help_lists_verbs():
    result = run_cli("--help")
    assert result.returncode == 0
    for verb in VERBS:
        assert verb in result.stdout


@pytest.mark.parametrize("verb", [v for v in VERBS if v != "manage"])
def test_every_verb_has_help(verb):
    result = run_cli(verb, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout


@pytest.mark.parametrize("args", [("department", "add", "--help"), ("apikey", "create", "--help"),
                                  ("apikey", "revoke", "--help")])
def test_sub_actions_have_help(args):
    result = run_cli(*args)
    assert result.returncode == 0 and "usage:" in result.stdout


def test_unknown_verb_fails_with_usage():
    result = run_cli("frobnicate")
    assert result.returncode == 2 and "unknown verb" in result.stderr


def test_db_url_prints_a_libpq_connection_string():
    result = run_cli("db", "url")
    assert result.returncode == 0 and result.stdout.startswith("postgresql://")


def cli(*args: str) -> list[str]:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip().splitlines()


def test_department_add_then_apikey_create_prints_working_key_last(db):
    cli("department", "add", "scjgj", "市市场监督管理局", "--en", "Market Regulation", "--responsible", "陈静")
    dept = Department.objects.get(code="scjgj")
    assert dept.name_zh == "市市场监督管理局" and dept.responsible_person == "陈静"
    lines = cli("apikey", "create", "scjgj", "--name", "registry-sync", "--expires", "30")
    key = verify_api_key(lines[-1])
    assert key.department == dept and key.name == "registry-sync" and key.expires_at is not None


def test_apikey_revoke(db, api_key):
    key, raw = api_key
    assert "revoked" in cli("apikey", "revoke", f"gp_{key.prefix}")[-1]
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_apikey_for_unknown_department_is_a_clear_error(db):
    with pytest.raises(CommandError, match="no department 'nope'"):
        cli("apikey", "create", "nope")


def test_department_code_is_validated(db):
    with pytest.raises(CommandError, match="code"):
        cli("department", "add", "Bad Code!", "名字")


def test_demo_is_idempotent(db, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    cli("demo")
    first = (tmp_path / "demo-credentials.txt").read_text().splitlines()
    cli("demo")
    assert (tmp_path / "demo-credentials.txt").read_text().splitlines() == first
    assert Department.objects.filter(is_data_authority=True).count() == 1
    keys = [line.split("\t")[2] for line in first if "\tkey\t" in line]
    assert len(keys) == Department.objects.count()
    assert all(verify_api_key(k) for k in keys)


def test_demo_city_is_mapped_and_geocodable(db, settings, tmp_path, client):
    from catalog.models import Entry

    settings.DATA_DIR = tmp_path
    cli("demo")
    for slug in ("districts", "townships", "roads", "businesses", "gazetteer"):
        assert Entry.objects.get(slug=slug).feature_count > 0, slug
    key = next(line.split("\t")[2] for line in (tmp_path / "demo-credentials.txt").read_text().splitlines()
               if line.startswith("jtw API key"))
    body = client.get("/api/geocode", {"q": "示范市东城区长安街15号"}, HTTP_AUTHORIZATION=f"Bearer {key}").json()
    assert body["level"] == "door" and body["matched_address"].endswith("长安街15号")
