"""No credential is stored or shown: audit rows, notifications, the server's logs; leaked keys are found and revoked."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from django.core.management import call_command
from django.db import connection

from catalog.audit import GENESIS, append_event, row_hash, verify_chain
from catalog.keys import create_api_key
from catalog.models import ApiKey, AuditEvent, Entry
from catalog.redact import redact
from tests.servers import get, live_server

KEY = "gp_abcdefgh_" + "A" * 43
TILE_TOKEN = "gpt1.ZGVwdHxrZXl8c2x1Z3wxNzAwMDAwMDAw.c2lnbmF0dXJlLWJ5dGVz"


@pytest.mark.parametrize(("text", "expected"), [
    (f"/api/layers/roads/tilejson.json?token={KEY}&x=1", "/api/layers/roads/tilejson.json?token=[redacted]&x=1"),
    (f"/tiles/wmts?SERVICE=WMTS&TOKEN={KEY}", "/tiles/wmts?SERVICE=WMTS&TOKEN=[redacted]"),
    (f"/tiles/a/2024/1/2/3.png?token={TILE_TOKEN}", "/tiles/a/2024/1/2/3.png?token=[redacted]"),
    (f"a key {KEY} in a sentence", "a key gp_abcdefgh_[redacted] in a sentence"),
    (f"a tile token {TILE_TOKEN}.", "a tile token gpt1.[redacted]."),
    (quote(KEY, safe=""), "gp_abcdefgh_[redacted]"),
    ("Authorization: Basic eDpncF9hYmNkZWZnaF9B", "Authorization: Basic [redacted]"),
    ("Authorization: Bearer some.opaque-value", "Authorization: Bearer [redacted]"),
    ("https://bucket:s3cret@objects.example/x", "https://bucket:[redacted]@objects.example/x"),
    ("/x?X-Amz-Signature=abc123&X-Amz-Date=1", "/x?X-Amz-Signature=[redacted]&X-Amz-Date=1"),
])
def test_credentials_are_redacted(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize("text", ["/ogc/collections/roads/items?limit=10&bbox=116,39,117,40",
                                  "/api/catalog/?q=%E9%81%93%E8%B7%AF", "publish --key credit_code", "道路施工许可核查"])
def test_ordinary_text_is_unchanged(text):
    assert redact(text) == text


def test_audit_rows_never_hold_a_key_and_the_chain_still_verifies(db, department):
    _key, raw = create_api_key(department, "qgis")
    append_event(department=department.code, action="read", allowed=True, path=f"/api/x?token={raw}",
                 reason=f"given {raw}")
    stored = AuditEvent.objects.get()
    assert raw not in stored.path and raw not in stored.reason and "[redacted]" in stored.path
    assert verify_chain().ok


@pytest.fixture
def shared_layer_and_imagery(department, other_department, tmp_path, settings):
    """An open layer "companies" and an open imagery year "aerial"/2024, both owned by ``department``."""
    from geoplatform.layers.publish import PublishRequest, publish_version
    from tests.layers.conftest import write_points
    from tests.tiles.conftest import write_geotiff
    from tiles.ingest import IngestRequest, ingest_imagery

    settings.GEOPLATFORM_IMAGERY_DIR = tmp_path / "imagery"
    publish_version(write_points(tmp_path / "v1.gpkg"), PublishRequest(owner=department, slug="companies", key="code"))
    Entry.objects.filter(slug="companies").update(sharing=Entry.Sharing.OPEN)
    ingest_imagery(IngestRequest(owner=department, collection="aerial", year=2024,
                                 source=write_geotiff(tmp_path / "aerial.tif"), sharing=Entry.Sharing.OPEN))
    return tmp_path / "imagery"


TOKEN_URLS = [
    "/api/layers/companies/tilejson.json?token={key}",
    "/api/layers/companies/tiles/14/13484/6208.mvt?token={key}",
    "/ogc/collections/companies/tiles/WebMercatorQuad?token={key}",
    "/ogc/collections/companies/tiles/WebMercatorQuad/14/6208/13484?token={key}",
    "/tiles/aerial/2024/tilejson.json?token={key}",
    "/tiles/aerial/2024/14/13484/6208.png?token={key}",
    "/tiles/1.0.0/WMTSCapabilities.xml?token={key}",
    "/tiles/wmts?SERVICE=WMTS&REQUEST=GetCapabilities&token={key}",
    "/api/me?token={key}",  # refused (401: the parameter is for tile URLs only), and still logged
    "/ogc/collections/companies/items?token={key}",
]


@pytest.mark.django_db(transaction=True)
def test_key_sent_as_token_is_in_no_audit_row_and_no_log(department, other_department, shared_layer_and_imagery,
                                                         tmp_path):
    _owner_key, owner_raw = create_api_key(department, "owner-app")
    _key, raw = create_api_key(other_department, "desktop-gis")
    secret = raw.split("_", 2)[2]
    log = tmp_path / "server.log"
    env = {"GEOPLATFORM_LOG_LEVEL": "INFO", "GEOPLATFORM_IMAGERY_DIR": str(shared_layer_and_imagery)}
    with live_server(log=log, env=env) as base:
        statuses = {url: get(base + url.format(key=raw))[0] for url in TOKEN_URLS}
        encoded = get(base + TOKEN_URLS[0].format(key=quote(raw, safe="")))[0]
        status, _, body = get(base + "/api/audit/?limit=200", {"Authorization": f"Bearer {owner_raw}"})
    assert all(code < 500 for code in statuses.values()), statuses
    assert statuses[TOKEN_URLS[0]] == 200 and statuses[TOKEN_URLS[4]] == 200 and encoded == 200
    assert status == 200
    rows = json.loads(body)["results"]
    assert any("tilejson.json?token=[redacted]" in row["path"] for row in rows)  # the owner sees the access...
    assert secret not in body.decode()  # ...but not the key
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(string_agg(row_to_json(a)::text, ''), '') FROM catalog_auditevent a")
        assert secret not in cursor.fetchone()[0]
    text = log.read_text()
    assert "token=[redacted]" in text  # the access log was written, with the parameter redacted
    assert "Logging error" not in text and "Traceback" not in text
    assert '"GET /api/layers/companies/tilejson.json?token=[redacted] HTTP/1.1" 200' in text
    assert secret not in text and quote(secret, safe="") not in text


def _write_unredacted_row(path: str) -> None:
    """A row as the platform wrote them before redaction existed (bypassing append_event)."""
    from django.utils import timezone

    last = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first() or GENESIS
    values = {"at": timezone.now(), "request_id": "old", "department": "swj", "api_key": "", "username": "",
              "entry": "roads", "action": "read", "allowed": True, "reason": "", "grant_id": None, "purpose": "",
              "client": "127.0.0.1", "path": path}
    AuditEvent.objects.create(prev_hash=last, hash=row_hash(last, values), **values)


def test_leaked_keys_are_listed_then_revoked(db, department, other_department, tmp_path, capsys):
    in_audit, in_audit_raw = create_api_key(other_department, "desktop-gis")
    in_log, in_log_raw = create_api_key(department, "tile-app")
    untouched, _ = create_api_key(department, "never-leaked")
    _write_unredacted_row(f"/api/layers/roads/tilejson.json?token={in_audit_raw}")
    look_alike = "gp_" + in_log.prefix + "_" + "B" * 43  # the right shape and id, not the key
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "access.log").write_text(f'GET /x?token={quote(in_log_raw, safe="")} 200\nGET /y?token={look_alike}\n')

    call_command("audit", "leaked-keys", "--log", str(logs))
    out = capsys.readouterr().out
    assert f"gp_{in_audit.prefix}\t{other_department.code}\tdesktop-gis\tactive\t1" in out
    assert f"gp_{in_log.prefix}\t{department.code}\ttile-app\tactive\t0 (-)\t1" in out
    assert untouched.prefix not in out and "2 active key(s) were exposed" in out
    assert not ApiKey.objects.filter(revoked_at__isnull=False).exists()  # a dry run changes nothing

    call_command("audit", "leaked-keys", "--log", str(logs), "--revoke")
    assert "revoked 2 key(s)" in capsys.readouterr().out
    assert set(ApiKey.objects.filter(revoked_at__isnull=False).values_list("prefix", flat=True)) == {
        in_audit.prefix, in_log.prefix}
    call_command("audit", "leaked-keys", "--log", str(logs))
    assert "0 active key(s)" in capsys.readouterr().out


def test_no_leaked_key_says_so(db, tmp_path, capsys):
    call_command("audit", "leaked-keys", "--log", str(tmp_path))
    assert "no API key found in clear" in capsys.readouterr().out


def test_notifications_hold_no_key(db, department):
    from catalog.notify import notify

    notice = notify(department, "test", f"see /x?token={KEY}", {"url": f"/y?token={KEY}"})
    assert KEY not in notice.message and KEY not in json.dumps(notice.payload)
