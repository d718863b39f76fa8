"""The signed-in portal user's language and the portal's colour theme, as a Bitrix24 user sets
them in their profile: the language travels to apps as LANG in every placement and app page
(sandbox/frames.py), the theme stays with the portal's own pages (Bitrix24 sends apps none)."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from sandbox.views.tools import current_user

THEME_SESSION_KEY = "sandbox_theme"


class PrefsForm(forms.Form):
    lang = forms.ChoiceField(choices=[("en", "English"), ("ru", "Русский")])
    theme = forms.ChoiceField(choices=[("light", "Light"), ("dark", "Dark")])
    next = forms.CharField(required=False)


@require_POST
def portal_prefs(request: HttpRequest) -> HttpResponse:
    form = PrefsForm(request.POST)
    if form.is_valid():
        user = current_user(request)
        user.lang = form.cleaned_data["lang"]
        user.save(update_fields=["lang"])
        request.session[THEME_SESSION_KEY] = form.cleaned_data["theme"]
        target = form.cleaned_data["next"]
        if target and url_has_allowed_host_and_scheme(target, {request.get_host()}):
            return redirect(target)
    return redirect("sandbox:home")
