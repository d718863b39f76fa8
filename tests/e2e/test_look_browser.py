"""Every screen as a person sees it, in Chromium with real scroll bars (Playwright hides them by
default, Windows shows 15 px ones): light and dark, English and Russian, over the journeys of a
rep (open the tab, edit and save rows, add a contact), an administrator (the layout page: preview,
edit, save, history, rollback) and a rep on the layout page. Each screen is checked for:
console errors or warnings and failed requests, a scroll bar inside the frame at 1280 and 1440 px,
sideways overflow at 768 and 360 px, axe-core's serious and critical findings and, in Russian,
any of our English interface strings left. With UPDATE_SCREENSHOTS=1 it also refreshes README's
pictures (docs/images)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache

from tests.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.widgets.layout_support import Installed, clean_cache, installed_fixture  # noqa: F401 - fixtures
from tests.widgets.tab_support import deal_of

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "docs" / "images"
PO = ROOT / "locale" / "ru" / "LC_MESSAGES" / "django.po"
# Our own English strings that are the same word in Russian UI, or names.
SAME_IN_RUSSIAN = {"Deal Desk", "Bitrix24", "JSON", "%", "E-mail", "B24"}


@pytest.fixture(scope="module")
def scrollbar_chromium(chromium: Any) -> Iterator[Any]:
    """Chromium that draws its scroll bars: a frame too small for its page shows them. Launched by
    the session's own Playwright (a second sync Playwright cannot run beside it)."""
    browser = chromium.browser_type.launch(
        executable_path=CHROMIUM, args=CHROMIUM_ARGS, ignore_default_args=["--hide-scrollbars"]
    )
    yield browser
    browser.close()


class Watch:
    """What the console and the network said while the pages were used."""

    def __init__(self, page: Any) -> None:
        self.problems: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"pageerror: {error}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def _failed(self, request: Any) -> None:
        # A request the browser itself abandoned because the page moved on (a favicon still loading
        # when the next page opens) is no failure a person sees; every other failure counts.
        if request.failure == "net::ERR_ABORTED" and not request.is_navigation_request():
            return
        self.problems.append(f"failed: {request.url} {request.failure}")

    def _console(self, message: Any) -> None:
        if message.type in ("error", "warning"):
            self.problems.append(f"console {message.type}: {message.text}")

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            self.problems.append(f"{response.status}: {response.url}")


# Elements that show the portal's own data (names, field titles, stages), not our interface.
DATA = (
    ".la-label, .la-add, .la-preview-row dt, .la-preview-section h3, .la-funnels a, .la-person, .stage, .deal-line,"
    " .deal-amount span, .contact-name, .option-name, td.name, .la-h1-sub, h1, .la-lead, .la-versions td:nth-child(3),"
    " .la-check, option, .contact-channels, .la-palette select, code, .link > .sr-only"
)
# Every visible text node and label-like attribute (confirm texts included), outside the data,
# tested against our strings, and against any English wording at all: a string built in Python
# that never reached the catalogue is English too. Quoted names (“…”, «…») are the portal's data.
ENGLISH_LEFT = """([strings, data, same]) => {
  const found = new Set();
  const escape = (s) => s.replace(/[.*+?^${}()|[\\]\\\\]/g, '\\\\$&');
  const english = /[A-Za-z]{2,}[ ,:;'’]+[A-Za-z]{2,}|^\\s*[A-Za-z]{3,}[.!?]?\\s*$/;
  const test = (text, el) => {
    for (const word of same) text = text.replaceAll(word, '');
    text = text.replace(/“[^”]*”|«[^»]*»/g, '');
    const where = el ? ' (' + el.tagName.toLowerCase() + (el.className ? '.' + el.className : '') + ')' : '';
    for (const s of strings) if (new RegExp('(^|[^A-Za-z])' + escape(s) + '($|[^A-Za-z])').test(text)) {
      found.add(s + where);
    }
    // A sentence with no Russian word in it is English (one with a Russian word names data in it).
    if (!/[А-Яа-яЁё]/.test(text) && english.test(text)) found.add('English words: ' + text.trim().slice(0, 80) + where);
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement;
    if (!el || el.closest(data) || el.closest('[hidden], script, style')) continue;
    if (el.getClientRects().length === 0 && !el.closest('.sr-only, .la-sr')) continue;
    test(node.textContent, el);
  }
  // aria-labels name the data they act on ("Move Amount up"), so only placeholders, tooltips and
  // the confirm dialogs htmx will show.
  for (const el of document.querySelectorAll('[placeholder], [title], [hx-confirm]')) {
    if (el.closest(data)) continue;
    for (const name of ['placeholder', 'title', 'hx-confirm']) if (el.getAttribute(name)) test(el.getAttribute(name));
  }
  return [...found].sort();
}"""


def english_strings() -> list[str]:
    """Our interface's English strings (the catalogue's msgids), placeholders cut out."""
    text = PO.read_text(encoding="utf-8")
    found = []
    for block in text.split("\n\n"):
        if block.startswith("#~") or "msgid" not in block:
            continue
        match = re.search(r'^msgid ((?:".*"\n?)+)', block, flags=re.M)
        msgid = "".join(re.findall(r'"(.*)"', match.group(1))) if match else ""
        for part in re.split(r"%\(\w+\)[sd]|<[^>]+>|\\\"", msgid):
            part = part.strip(" .,:;«»“”()·—-")
            if len(part) >= 4 and re.search(r"[A-Za-z]{3}", part) and part not in SAME_IN_RUSSIAN:
                found.append(part)
    return found


class Screen:
    """One frame of the portal page, checked the same way wherever it is."""

    def __init__(self, page: Any, selector: str, lang: str) -> None:
        self.page, self.selector, self.lang = page, selector, lang

    @property
    def frame(self) -> Any:
        return self.page.locator(self.selector).element_handle().content_frame()

    def metrics(self) -> dict[str, int]:
        measured: dict[str, int] = self.frame.evaluate(
            """() => ({sh: document.documentElement.scrollHeight, ch: document.documentElement.clientHeight,
                      sw: document.documentElement.scrollWidth, cw: document.documentElement.clientWidth})"""
        )
        return measured

    def settle(self) -> None:
        self.page.wait_for_timeout(400)  # the frame's resize is a round trip through postMessage

    def check(self, name: str) -> list[str]:
        from axe_playwright_python.sync_playwright import Axe

        problems = []
        for width in (1280, 1440):
            self.page.set_viewport_size({"width": width, "height": 900})
            self.settle()
            m = self.metrics()
            if m["sh"] > m["ch"] + 1 or m["sw"] > m["cw"] + 1:
                problems.append(f"{name}: scroll bar inside the frame at {width}px: {m}")
        violations = Axe().run(self.frame).response["violations"]
        for v in violations:
            if v["impact"] in ("serious", "critical"):
                problems.append(f"{name}: axe {v['id']} on {[n['target'] for n in v['nodes']][:4]}")
        if self.lang == "ru":
            left = self.frame.evaluate(ENGLISH_LEFT, [english_strings(), DATA, sorted(SAME_IN_RUSSIAN)])
            if left:
                problems.append(f"{name}: English under LANG=ru: {left[:8]}")
        for width in (768, 360):
            self.page.set_viewport_size({"width": width, "height": 900})
            self.settle()
            m = self.metrics()
            if m["sw"] > m["cw"] + 1:
                wide = self.frame.evaluate(
                    """() => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right
                        > document.documentElement.clientWidth + 1).slice(-3).map(e => e.tagName + '.' + e.className)"""
                )
                problems.append(f"{name}: {m['sw'] - m['cw']}px sideways overflow at {width}px: {wide}")
        self.page.set_viewport_size({"width": 1280, "height": 900})
        self.settle()
        return problems


def sign_in(page: Any, sandbox_url: str, user_id: int) -> None:
    page.goto(sandbox_url)
    with page.expect_navigation():
        page.locator("#switch-user").select_option(str(user_id))


def screenshot(page: Any, name: str, lang: str) -> None:
    """README's pictures: English, light (name.png) and dark (name-dark.png), 1280 x 720."""
    if os.environ.get("UPDATE_SCREENSHOTS") == "1" and lang == "en":
        page.set_viewport_size({"width": 1280, "height": 720})
        page.wait_for_timeout(400)
        page.screenshot(path=str(IMAGES / name), caret="initial")  # no style injected (CSP)
        page.set_viewport_size({"width": 1280, "height": 900})


@pytest.mark.parametrize("lang", ["en", "ru"])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_screen_fits_reads_well_and_logs_nothing(
    installed: Installed, scrollbar_chromium: Any, scheme: str, lang: str
) -> None:
    from sandbox.models import Contact, Deal, DealContact, User

    cache.clear()
    sandbox_url = installed.sandbox.url
    User.objects.update(lang=lang)
    deal = Deal.objects.get(pk=deal_of(0))
    linked = set(DealContact.objects.filter(deal=deal).values_list("contact_id", flat=True))
    other = Contact.objects.exclude(pk__in=linked).exclude(name="").order_by("id").first()
    assert other is not None

    context = scrollbar_chromium.new_context(viewport={"width": 1280, "height": 900}, color_scheme=scheme)
    page = context.new_page()
    dialogs: list[str] = []  # what the confirm dialogs said, checked for English too

    def answer(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", answer)
    watch = Watch(page)
    problems: list[str] = []

    # A rep's deal tab: open it, change a quantity and save, add a contact and save.
    sign_in(page, sandbox_url, 1)
    if scheme == "dark":  # the portal's own dark theme too (the app follows the browser's scheme)
        with page.expect_navigation():
            page.locator("#portal-theme").select_option("dark")
    page.goto(f"{sandbox_url}crm/deal/details/{deal.pk}/")
    page.get_by_role("tab", name=re.compile("Deal Desk")).click()
    tab = page.frame_locator("iframe[data-b24-app]")
    tab.locator("#products-title").wait_for(timeout=20_000)
    screen = Screen(page, "iframe[data-b24-app]", lang)
    problems += screen.check("tab")
    screenshot(page, "deal-tab.png" if scheme == "light" else "deal-tab-dark.png", lang)
    with page.expect_response(re.compile(r"/rows/$")):
        tab.locator("#row-0-quantity").fill("7")
        tab.locator("#row-0-quantity").press("Tab")  # the recalculation answers before Save is pressed
    tab.locator('#editor-actions button[value="save"]:not([disabled])').click()
    tab.locator("#save-status span").wait_for(timeout=20_000)
    tab.locator("#contact-search").fill(other.name.split()[0])
    tab.locator("#contact-results button.option:not(.free)").first.click()
    tab.locator('#contacts-actions button[value="save"]:not([disabled])').click()
    tab.locator("#contacts-status span").wait_for(timeout=20_000)
    problems += screen.check("tab after saving")
    # The theme switch applies at once and is remembered for this user (the next load renders it).
    chosen = "dark" if scheme == "light" else "light"
    with page.expect_response(re.compile(r"/theme/$")):
        tab.locator(f'[data-theme-switch] input[value="{chosen}"]').check()
    assert screen.frame.evaluate("() => document.documentElement.dataset.theme") == chosen
    from widgets.models import ThemeChoice

    assert ThemeChoice.objects.get(user_id=1).theme == chosen
    from widgets.common.theme import theme_set

    # The next walk starts at "auto" again (the choice is cached too: theme_set writes both).
    theme_set(portal_id=ThemeChoice.objects.get(user_id=1).portal_id, user_id=1, theme="auto")
    if scheme == "light" and lang == "en":
        page.set_viewport_size({"width": 360, "height": 720})
        page.wait_for_timeout(400)
        if os.environ.get("UPDATE_SCREENSHOTS") == "1":
            page.screenshot(path=str(IMAGES / "deal-tab-360.png"), caret="initial")
        page.set_viewport_size({"width": 1280, "height": 900})

    # The administrator's layout page: preview, an edit, save, the history, a rollback.
    page.goto(f"{sandbox_url}app/1/")
    admin = page.frame_locator("iframe.app-frame")
    admin.locator("#workspace .la-field").first.wait_for(timeout=20_000)
    layout = Screen(page, "iframe.app-frame", lang)
    problems += layout.check("layout page")
    screenshot(page, "layout-admin.png" if scheme == "light" else "layout-admin-dark.png", lang)
    admin.locator('button[value="preview"]').click()
    admin.locator(".la-preview").wait_for()
    problems += layout.check("layout preview")
    admin.locator('button[value="edit"]').click()
    admin.locator(".la-field button.i-down:not([disabled])").first.click()
    admin.locator("[data-dirty]").wait_for()
    problems += layout.check("layout edited")
    admin.locator('button[value="section_add"]').click()  # no title typed: the editor says why not
    admin.locator(".la-editor .la-callout.error").wait_for(timeout=20_000)
    problems += layout.check("layout validation error")
    admin.locator('button[value="save"]').first.click()
    admin.locator(".la-callout.ok").first.wait_for(timeout=20_000)
    problems += layout.check("layout saved")
    admin.locator('.la-history a[hx-target="#diff"]').first.click()
    admin.locator("#diff li").first.wait_for(timeout=20_000)
    problems += layout.check("layout history: what changed")
    admin.locator(".la-history form[hx-confirm] button").first.click()
    admin.locator(".la-callout.ok").first.wait_for(timeout=20_000)
    problems += layout.check("layout rolled back")

    # A sales rep on the layout page: the polite page, answered 200.
    sign_in(page, sandbox_url, 3)
    page.goto(f"{sandbox_url}app/1/")
    page.frame_locator("iframe.app-frame").locator(".la-refused").wait_for(timeout=20_000)
    problems += Screen(page, "iframe.app-frame", lang).check("ask your administrator")

    context.close()
    if lang == "ru":
        problems += [
            f"English in a confirm dialog: {text}" for text in dialogs if re.search(r"[A-Za-z]{3,} [A-Za-z]{2,}", text)
        ]
    assert not problems + watch.problems, "\n".join(problems + watch.problems)
