"""Portal pages, health check, OpenAPI: Chinese by default, English on request."""

import pytest


def test_home_is_chinese_by_default(client, department):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en")
    html = response.content.decode()
    assert response.status_code == 200
    assert "城市政务地理空间数据共享平台" in html and "市交通委员会" in html


def test_home_in_english_when_chosen(client, department):
    html = client.get("/?lang=en").content.decode()
    assert "City geospatial data sharing platform" in html and "Transport Commission" in html
    assert "Transport Commission" in client.get("/").content.decode(), "the choice is remembered in a cookie"


def test_set_language_form_switches(client, db):
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert "Log in" in client.get("/").content.decode()


def test_healthz_reports_database_and_library_versions(client, db):
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["postgis"].startswith("3.")
    assert body["gdal"].startswith("GDAL 3.")
    assert body["proj"][0].isdigit()


def test_openapi_schema_and_docs(client, db):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert "/api/me" in schema["paths"]
    assert {"bearer", "basic"} <= set(schema["components"]["securitySchemes"])
    docs = client.get("/api/docs/")
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()


def test_login_page_and_session(client, department):
    from catalog.models import User

    User.objects.create_user("bob", password="another-pass-1", department=department)
    assert client.get("/accounts/login/").status_code == 200
    response = client.post("/accounts/login/", {"username": "bob", "password": "another-pass-1"})
    assert response.status_code == 302
    assert "bob" in client.get("/").content.decode()


def test_wrong_password_is_refused(client, db):
    response = client.post("/accounts/login/", {"username": "nobody", "password": "x"})
    assert response.status_code == 200 and "用户名或密码不正确" in response.content.decode()


@pytest.mark.parametrize("path", ["/admin/", "/api/departments/"])
def test_protected_pages_need_login(client, db, path):
    assert client.get(path).status_code in (302, 401)


def test_home_shows_what_the_platform_holds(client, department):
    from catalog.models import Entry

    Entry.objects.create(slug="roads", owner=department, title_zh="城市道路中心线", sharing="open",
                         feature_count=1200, last_published_at="2026-11-01T00:00:00+08:00")
    Entry.objects.create(slug="secret", owner=department, title_zh="内部数据", sharing="unlisted", legal_basis="x",
                         feature_count=5)
    html = client.get("/").content.decode()
    assert 'id="entry-count">1<' in html and 'id="feature-total">1200<' in html
    assert "城市道路中心线" in html and "内部数据" not in html


def test_openapi_schema_generates_without_warnings(db):
    """Every API view is described (no view silently left out of /api/docs/)."""
    from django.core.management import call_command

    call_command("spectacular", "--fail-on-warn", "--file", "/dev/null")
