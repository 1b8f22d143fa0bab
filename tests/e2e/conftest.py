"""Browser tests: Playwright driving Debian's ``chromium`` against a live server on PostgreSQL.

Never ``playwright install``: the browser is the system's ``/usr/bin/chromium`` (``.ci/run``
installs it with ``fonts-noto-cjk``). Tests drive pages by labels and roles, as people do.
Screenshots of the main pages go to ``SCREENSHOT_DIR`` (default ``artifacts/screenshots``),
named ``<page>-<language>-<desktop|phone>.png``.
"""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT_DIR = Path(
    os.environ.get("SCREENSHOT_DIR", Path(__file__).resolve().parents[2] / "artifacts/screenshots")
)
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def pytest_collection_modifyitems(config, items):
    skip_browser = pytest.mark.skip(reason=f"no browser at {CHROMIUM} (apt-get install chromium)")
    skip_db = pytest.mark.skip(reason="browser tests run against PostgreSQL")
    for item in items:
        if "tests/e2e/" not in str(item.fspath):
            continue
        item.add_marker(pytest.mark.e2e)
        if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
            item.add_marker(skip_browser)
        elif not settings.IS_POSTGRES:
            item.add_marker(skip_db)


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """One chromium per test module. Playwright's sync API keeps an event loop in the test
    thread while it runs, and Django refuses ORM calls from such a thread unless told that this
    is deliberate: the permission lasts exactly as long as the browser."""
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            instance = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            yield instance
            instance.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def new_page(browser, live_server):
    """``new_page(lang="zh-hans", phone=False)``: a fresh browser context (own cookies)."""
    contexts = []

    def make(*, lang: str = "en", phone: bool = False):
        context = browser.new_context(
            base_url=live_server.url,
            viewport=PHONE if phone else DESKTOP,
            locale="zh-CN" if lang.startswith("zh") else "en-GB",
            extra_http_headers={
                "Accept-Language": "zh-CN,zh;q=0.9" if lang.startswith("zh") else "en"
            },
            timezone_id="Asia/Shanghai",
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        page.on(
            "console",
            lambda message: page.errors.append(message.text) if message.type == "error" else None,
        )
        return page

    yield make
    for context in contexts:
        context.close()


def snap(page, name: str) -> Path:
    """Save a full-page screenshot as ``<name>-<lang>-<desktop|phone>.png``."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    lang = page.evaluate("document.documentElement.lang") or "en"
    kind = "phone" if page.viewport_size["width"] < 576 else "desktop"
    path = SCREENSHOT_DIR / f"{name}-{lang}-{kind}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def serious_axe_violations(page) -> list[str]:
    """axe-core's serious and critical violations on the current page, as readable lines."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v.get("impact") in {"serious", "critical"}
    ]


def scrolls_sideways(page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth > document.documentElement.clientWidth + 1"
    )


def log_in(page, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").or_(page.get_by_label("用户名")).fill(username)
    page.get_by_label("Password").or_(page.get_by_label("密码")).fill(password)
    page.get_by_role("button", name="Log in").or_(
        page.get_by_role("button", name="登录")
    ).last.click()
