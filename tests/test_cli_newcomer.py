"""The geoplatform command as a newcomer meets it: every verb in the help, help that points to things
that exist, list commands with a header line, no progress-bar noise in a log file, staff logins from the
command line, and English messages whatever the platform's page language."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command, get_commands

from catalog.models import Department, User
from geoplatform import cli

ROOT = Path(__file__).resolve().parent.parent
OUR_APPS = ("catalog", "geoplatform", "tiles")


def run_cli(*args: str, stdin: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "geoplatform.cli", *args], capture_output=True, text=True,
                          timeout=120, input=stdin, cwd=ROOT, env={**os.environ, **(env or {})})


def our_commands() -> list[str]:
    return sorted(name for name, app in get_commands().items() if app.split(".")[0] in OUR_APPS)


def test_top_level_help_lists_every_verb_of_our_apps():
    shown = run_cli("--help").stdout
    missing = [name for name in our_commands() if f"\n  {name} " not in shown]
    assert not missing, f"geoplatform --help does not list {missing}"
    assert "catalog" in our_commands() and "audit" in our_commands() and "user" in our_commands()


def test_manage_help_points_to_a_command_that_exists():
    shown = run_cli("manage", "--help").stdout
    assert "geoplatform manage help <subcommand>" in shown
    followed = run_cli("manage", "help", "check")
    assert followed.returncode == 0 and followed.stdout.startswith("usage: geoplatform manage check")


def test_gazetteer_load_help_lists_the_columns_itself():
    from geoplatform.geocoding.gazetteer_csv import COLUMNS, REQUIRED

    shown = run_cli("gazetteer", "load", "--help").stdout
    assert "../shared" not in shown
    assert ", ".join(COLUMNS) in shown and ", ".join(REQUIRED) in shown


def _lines(capsys, *args) -> list[str]:
    capsys.readouterr()
    call_command(*args)
    return capsys.readouterr().out.splitlines()


@pytest.mark.parametrize(("args", "header"), [
    (("department", "list"), "code\tname\tname_en\tresponsible\trole"),
    (("apikey", "list"), "key\tdepartment\tapplication\tstate\texpires"),
    (("catalog", "list"), "slug\tkind\towner\tsharing\tcadence\tpublished\ttitle"),
    (("user", "list"), "username\tdepartment\tname\tactive\tlast login"),
    (("gazetteer", "list"), "  version  addresses"),
])
def test_list_commands_print_a_header_line(db, capsys, department, api_key, args, header):
    assert _lines(capsys, *args)[0].startswith(header)


def test_department_list_marks_the_data_authority(db, capsys, department):
    Department.objects.create(code="zsj", name_zh="市政务服务和数据管理局", is_data_authority=True)
    rows = {line.split("\t")[0]: line.split("\t")[-1] for line in _lines(capsys, "department", "list")[1:]}
    assert rows == {"jtw": "-", "zsj": "data authority"}


def test_layer_history_prints_a_header_line(db, capsys, tmp_path, department):
    source = tmp_path / "points.csv"
    source.write_text("id,name,lon,lat\n1,a,116.30,39.90\n2,b,116.31,39.91\n", encoding="utf-8")
    call_command("layer", "publish", "--owner", "jtw", "--name", "stops", "--key", "id", str(source))
    lines = _lines(capsys, "layer", "history", "--name", "stops")
    assert lines[0].startswith("  version  published") and lines[1].startswith("* v1")


def test_progress_bar_is_not_written_to_a_log_file(db, capsys, tmp_path, department):
    """Output that is not a terminal (a log file, a pipe) gets the summary lines, not carriage-return frames."""
    source = tmp_path / "points.csv"
    source.write_text("id,name,lon,lat\n1,a,116.30,39.90\n", encoding="utf-8")
    call_command("layer", "publish", "--owner", "jtw", "--name", "stops", "--key", "id", str(source))
    captured = capsys.readouterr()
    assert "\r" not in captured.err and "features/s" not in captured.err
    assert "stops version 1: 1 features" in captured.out


def test_user_add_creates_a_staff_login_with_a_generated_password(db, capsys, department):
    lines = _lines(capsys, "user", "add", "jtw", "zhangsan", "--name", "张三")
    user = User.objects.get(username="zhangsan")
    assert user.department == department and user.first_name == "张三" and not user.is_staff
    assert user.check_password(lines[-1]) and "shown only once" in lines[-2]


@pytest.mark.django_db(transaction=True)
def test_user_add_to_unknown_department_fails_with_one_line():
    from tests.servers import test_database_url

    # on the test database: the platform's own database may not even be migrated on a fresh clone
    result = run_cli("user", "add", "nosuchdept", "lisi", "--generate", env={"DATABASE_URL": test_database_url()})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "CommandError: no department 'nosuchdept': add it with `geoplatform department add`")


def test_user_add_twice_is_refused(db, capsys, department):
    call_command("user", "add", "jtw", "zhangsan")
    with pytest.raises(Exception, match="already exists"):
        call_command("user", "add", "jtw", "zhangsan")


@pytest.mark.django_db(transaction=True)  # run_from_argv closes the connections when it ends
def test_cli_messages_are_english_even_for_chinese_validation_errors(capsys):
    """The rule: the CLI speaks English (LANGUAGE_CODE zh-hans is for the pages)."""
    with pytest.raises(SystemExit) as exited:
        cli.main(["department", "add", "bad code!", "坏部门"])
    err = capsys.readouterr().err
    assert exited.value.code == 1
    assert "code:" in err and not any("\u4e00" <= ch <= "\u9fff" for ch in err.replace("坏部门", "")), err
    assert not Department.objects.filter(name_zh="坏部门").exists()


@pytest.mark.django_db(transaction=True)  # the CLI runs in its own process on the test database
def test_imagery_ingest_replace_into_a_log_file_has_no_rio_cogeo_messages(tmp_path, department):
    from tests.servers import test_database_url
    from tests.tiles.conftest import write_geotiff

    source = write_geotiff(tmp_path / "a.tif")
    env = {**os.environ, "DATABASE_URL": test_database_url(), "GEOPLATFORM_IMAGERY_DIR": str(tmp_path / "imagery")}
    args = ["imagery", "ingest", "--owner", "jtw", "--collection", "aerial", "--year", "2024", str(source)]
    log = tmp_path / "ingest.log"
    for extra in ([], ["--replace"]):
        with log.open("w") as out:
            result = subprocess.run([sys.executable, "-m", "geoplatform.cli", *args, *extra], stdout=out,
                                    stderr=subprocess.STDOUT, env=env, cwd=ROOT, timeout=300)
        text = log.read_text()
        assert result.returncode == 0, text
        assert "aerial/2024:" in text
        for noise in ("Reading input", "Adding overviews", "Updating dataset tags", "Writing output", "\r"):
            assert noise not in text, text
