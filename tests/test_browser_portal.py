"""The portal in a real browser: Chinese first, one click to English, staff log in."""

import pytest

from tests.browser import chromium

pytestmark = pytest.mark.browser


def test_home_login_and_language_switch(live_server, transactional_db, tmp_path):
    from catalog.models import Department, User

    dept = Department.objects.create(code="mzj", name_zh="市民政局", name_en="Civil Affairs Bureau")
    User.objects.create_user("carol", password="carol-pass-123", department=dept)
    with chromium() as browser:
        page = browser.new_page(locale="en-US")
        page.goto(live_server.url + "/")
        assert page.locator("h1").inner_text() == "城市政务地理空间数据共享平台"
        assert page.locator("#department-count").inner_text() == "1"
        page.get_by_role("button", name="English").click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == "City geospatial data sharing platform"
        assert "Civil Affairs Bureau" in page.content()
        page.get_by_role("link", name="Log in").click()
        page.fill("input[name=username]", "carol")
        page.fill("input[name=password]", "carol-pass-123")
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(live_server.url + "/")
        assert "carol" in page.locator(".account").inner_text()
        page.screenshot(path=str(tmp_path / "home.png"), full_page=True)
        assert (tmp_path / "home.png").stat().st_size > 1000
