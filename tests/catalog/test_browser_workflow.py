"""The application workflow in a real browser: apply, conformity check, approve with masking, see the grant."""

import pytest
from django.contrib.gis.geos import Polygon

from catalog.models import Grant, User
from tests.browser import chromium

pytestmark = pytest.mark.browser


def login(page, base, username):
    page.goto(base + "/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "pw-123456-x")
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")


def test_application_workflow_in_the_browser(live_server, transactional_db, tmp_path):
    from tests.catalog.conftest import City

    city = City()
    for code in ("stranger", "authority", "owner"):
        User.objects.create_user(code, password="pw-123456-x", department=city.departments[code])
    entry = city.entries["application"]
    entry.extent = Polygon.from_bbox((116.2, 39.8, 116.5, 40.0))
    entry.extent.srid = 4490
    entry.save()
    base = live_server.url
    with chromium() as browser:
        page = browser.new_page()
        login(page, base, "stranger")
        page.goto(f"{base}/catalog/?q=企业登记")
        page.get_by_role("link", name="企业登记 application").click()
        page.wait_for_selector("#map[data-ready]")
        page.screenshot(path=str(tmp_path / "entry.png"))
        page.click("#apply")
        page.fill("textarea[name=purpose]", "体育场馆周边企业安全检查")
        page.uncheck("input[value=address]")
        page.uncheck("input[value=employees]")
        page.click("#submit-application")
        assert page.locator("#application-status").inner_text() == "待合规性审核"
        application_url = page.url

        page.context.clear_cookies()
        login(page, base, "authority")
        page.goto(application_url)
        page.click("#check-pass")
        assert page.locator("#application-status").inner_text() == "待提供部门答复"

        page.context.clear_cookies()
        login(page, base, "owner")
        page.goto(f"{base}/my/")
        page.click(f"#to-decide a[href='{application_url.removeprefix(base)}']")
        assert page.locator("input[name=mask][value=credit_code]").is_checked(), "sensitive fields start masked"
        page.click("#approve")
        assert page.locator("#application-status").inner_text() == "已答复"

        page.context.clear_cookies()
        login(page, base, "stranger")
        page.goto(f"{base}/my/")
        assert entry.title_zh in page.locator("#my-grants").inner_text()
        page.screenshot(path=str(tmp_path / "my.png"), full_page=True)
    grant = Grant.objects.get(department=city.departments["stranger"], entry=entry)
    assert sorted(grant.fields) == ["credit_code", "name"]
    assert grant.transforms == {"credit_code": {"kind": "mask", "keep_last": 4}}


def test_entry_map_shows_base_layers_and_readable_features(live_server, transactional_db, tmp_path):
    from catalog.models import Department
    from geoplatform.demo.catalog import load_catalog
    from geoplatform.demo.departments import load_departments
    from geoplatform.demo.layers import publish_demo_layers

    load_departments()
    load_catalog()
    publish_demo_layers(say=lambda _m: None)
    for code in ("scjgj", "swj"):
        User.objects.create_user(code, password="pw-123456-x", department=Department.objects.get(code=code))
    base = live_server.url
    with chromium() as browser:
        page = browser.new_page()
        login(page, base, "scjgj")
        page.goto(f"{base}/catalog/businesses/")
        page.wait_for_selector("#map[data-ready=features]", timeout=20000)
        drawn = page.evaluate("previewMap.queryRenderedFeatures({layers: ['businesses-point']}).length")
        assert drawn > 50, "the owner sees its businesses on the map"
        page.context.clear_cookies()
        login(page, base, "swj")
        page.goto(f"{base}/catalog/businesses/")
        page.wait_for_selector("#map[data-ready=extent]", timeout=20000)
        assert page.evaluate("previewMap.getSource('businesses')") is None, "no grant: only the extent"
        assert page.evaluate("previewMap.queryRenderedFeatures({layers: ['roads-line']}).length") > 0
