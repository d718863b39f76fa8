"""The portal's Language and Theme switch: the language travels to apps as LANG, the theme stays
with the portal's own pages."""

from __future__ import annotations

from tests.conftest import SandboxPortal
from tests.sandbox.test_portal_ui import page, post, sign_in_as


def test_a_user_who_picks_russian_opens_apps_with_lang_ru(sandbox: SandboxPortal) -> None:
    from sandbox.models import User

    sign_in_as(sandbox, 3)
    response = post(sandbox, "prefs/", {"lang": "ru", "theme": "light", "next": "/sandbox/"})
    assert response.status_code == 200
    assert User.objects.get(pk=3).lang == "ru"
    assert User.objects.get(pk=1).lang == "en"  # one user's language, not the portal's


def test_the_dark_theme_is_rendered_on_the_portals_pages(sandbox: SandboxPortal) -> None:
    sign_in_as(sandbox, 1)
    assert 'data-theme="light"' in page(sandbox, "").text
    post(sandbox, "prefs/", {"lang": "en", "theme": "dark", "next": "/sandbox/"})
    assert 'data-theme="dark"' in page(sandbox, "").text


def test_a_language_the_portal_does_not_offer_changes_nothing(sandbox: SandboxPortal) -> None:
    from sandbox.models import User

    sign_in_as(sandbox, 1)
    post(sandbox, "prefs/", {"lang": "xx", "theme": "dark", "next": "/sandbox/"})
    assert User.objects.get(pk=1).lang == "en"
    assert 'data-theme="light"' in page(sandbox, "").text
