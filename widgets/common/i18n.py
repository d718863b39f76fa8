"""The language a page answers in: Bitrix24's LANG codes mapped to Django's locales.

Bitrix24 sends the user's interface language as `LANG` in the query string of every placement and
app page (bitrix24-look.md §2); its codes are its own, not ISO (`ua`, `br`, `la`, `sc`, `tc`...).
A code maps to a Django locale, and a locale Deal Desk has no catalogue for falls back to English.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation

from widgets.common.auth import TOKEN_HEADER, WidgetTokenInvalid, widget_token_read

# BX24.getLang()'s documented values (bx24-get-lang.md) plus ru and in (b24jssdk's language list).
BITRIX_TO_DJANGO = {
    "en": "en",
    "ru": "ru",
    "de": "de",
    "fr": "fr",
    "it": "it",
    "pl": "pl",
    "tr": "tr",
    "ja": "ja",
    "id": "id",
    "ms": "ms",
    "ar": "ar",
    "th": "th",
    "kz": "kk",
    "ua": "uk",
    "br": "pt-br",
    "vn": "vi",
    "la": "es",  # Bitrix24's Latin American Spanish
    "sc": "zh-hans",
    "tc": "zh-hant",
    "in": "hi",
}


def django_language(code: str | None) -> str:
    """The Django locale to answer in for a Bitrix24 LANG code; English for anything unknown."""
    locale = BITRIX_TO_DJANGO.get((code or "").strip().lower(), "")
    available = {lang for lang, _ in settings.LANGUAGES}
    return locale if locale in available else settings.LANGUAGE_CODE


def request_language(request: HttpRequest) -> str:
    """The widget token's language (htmx requests send it in a header), else the page's LANG.

    The body is not read here: a bad body must stay the view's to refuse (and a plain-form post
    of a tab is answered in its token's language by the view itself, tab_views.in_widget_language).
    """
    token = request.headers.get(TOKEN_HEADER, "")
    if token:
        try:
            lang = widget_token_read(token).lang
        except WidgetTokenInvalid:
            lang = ""  # the view refuses it; the refusal is in LANG's language
        if lang:
            return lang if lang in {code for code, _ in settings.LANGUAGES} else django_language(lang)
    return django_language(request.GET.get("LANG"))


class PortalLanguageMiddleware:
    """Activate the portal user's language for the whole request (views, templates, errors).

    Not Django's LocaleMiddleware: inside the portal's frame there is no cookie or session to keep
    a choice in, and Accept-Language is the browser's, not the Bitrix24 user's.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = request_language(request)
        with translation.override(language):
            request.LANGUAGE_CODE = language
            response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        return response
