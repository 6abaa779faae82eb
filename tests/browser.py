"""Headless Chromium (Debian's) driven by Playwright, for the pages people use."""

import contextlib
import os
from collections.abc import Iterator

from playwright.sync_api import Browser, sync_playwright

CHROMIUM = os.environ.get("GEOPLATFORM_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    # Playwright's sync API runs an event loop in this thread; the Django ORM calls the test
    # makes around it are ordinary blocking calls, so tell Django they are safe here.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()
