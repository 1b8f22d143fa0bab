"""The site's frame in a real browser: both languages, a phone's width, no script errors."""

from tests.e2e.conftest import scrolls_sideways, serious_axe_violations, snap


def test_home_in_chinese_and_english(new_page):
    for lang, heading in (("zh-hans", "算力市场"), ("en", "Compute Market")):
        page = new_page(lang=lang)
        page.goto("/")
        assert page.evaluate("document.documentElement.lang") == lang
        assert heading in page.locator("header").inner_text()
        assert page.errors == []
        assert serious_axe_violations(page) == []


def test_language_switch_keeps_the_page(new_page):
    page = new_page(lang="en")
    page.goto("/clusters/")
    page.get_by_role("button", name="中文").click()
    page.wait_for_url("**/clusters/")
    assert page.evaluate("document.documentElement.lang") == "zh-hans"


def test_phone_width_does_not_scroll_sideways(new_page):
    page = new_page(lang="zh-hans", phone=True)
    page.goto("/")
    snap(page, "home")
    assert not scrolls_sideways(page)
