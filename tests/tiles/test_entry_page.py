"""An imagery entry's page in a real browser: its years, the imagery itself in the preview, addresses for QGIS."""

from __future__ import annotations

import pytest
from rasterio.io import MemoryFile

from catalog.models import User
from tests.browser import chromium
from tests.servers import live_server

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.locator("form button[type=submit], form input[type=submit]").first.click()
    page.wait_for_load_state()


def test_imagery_entry_page_shows_years_imagery_and_connection_urls(ingest, department, other_department,
                                                                     imagery_root, tmp_path):
    ingest(2023)
    ingest(2024)
    User.objects.create_user("owner-staff", password="owner-pass-123", department=department)
    User.objects.create_user("other-staff", password="other-pass-123", department=other_department)
    with live_server(env={"GEOPLATFORM_IMAGERY_DIR": str(imagery_root)}) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        log_in(page, base, "owner-staff", "owner-pass-123")
        tiles: list[int] = []
        page.on("response", lambda r: tiles.append(r.status) if "/tiles/aerial/2024/" in r.url and ".png?token=gpt1." in r.url else None)
        page.goto(f"{base}/catalog/aerial/")
        page.wait_for_selector("#imagery[data-ready='2024']", timeout=30_000)
        assert page.locator("#imagery-years button").all_inner_texts() == ["2023", "2024"]
        assert page.locator("#imagery-years button[aria-pressed=true]").inner_text() == "2024"
        xyz = page.input_value("#url-xyz")
        assert "/tiles/aerial/2024/{z}/{x}/{y}.jpg?token=gpt1." in xyz
        assert page.input_value("#url-wmts").endswith("/tiles/1.0.0/WMTSCapabilities.xml?token=YOUR_API_KEY")
        assert page.input_value("#url-tilejson").endswith("/tiles/aerial/2024/tilejson.json?token=YOUR_API_KEY")
        assert tiles and all(status == 200 for status in tiles)
        box = page.locator("#map").bounding_box()
        shot = page.screenshot(clip=box)
        (tmp_path / "imagery-entry.png").write_bytes(page.screenshot(full_page=True))
        page.locator("#imagery-years button", has_text="2023").click()
        page.wait_for_selector("#imagery[data-ready='2023']", timeout=30_000)

        other = browser.new_page()
        log_in(other, base, "other-staff", "other-pass-123")
        other.goto(f"{base}/catalog/aerial/")
        other.wait_for_selector("#imagery-years button", timeout=30_000)
        assert other.locator("#url-xyz").count() == 0  # no grant: years shown, no addresses, no tiles
    with MemoryFile(shot) as memfile, memfile.open() as image:
        pixels = image.read()
    # the bright middle square of the source imagery is drawn in the middle of the preview
    centre = pixels[:3, pixels.shape[1] // 2, pixels.shape[2] // 2]
    assert (centre >= 200).all(), centre
