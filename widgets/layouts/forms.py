"""Forms of the layout page: everything the browser sends is parsed here, bounded and typed.

The editor keeps no state on the server: its form carries the working layout as JSON (checked by
the schema on every post), the section titles as typed, and the button pressed (`op`).
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.functional import lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from widgets.layouts.batch import Target
from widgets.layouts.editor import EditRequest
from widgets.layouts.schema import (
    MAX_JSON_BYTES,
    MAX_SECTIONS,
    Layout,
    LayoutInvalid,
    layout_json_load,
    layout_parse,
    layout_too_large,
)

MAX_ID = 2**31 - 1
MAX_TYPED_TITLE = 1000  # longer than allowed on purpose: the editor says why, instead of cutting
OP_PATTERN = (
    r"^(apply|preview|edit|reorder|section_add"
    r"|section_(up|down|remove):\d{1,3}"
    r"|field_(up|down|remove|always):\d{1,3}:\d{1,3}"
    r"|field_add:[A-Za-z0-9_]{1,100})$"
)
SCOPES = [("C", pgettext_lazy("layout scope", "Everyone")), ("P", pgettext_lazy("layout scope", "Personal"))]
TOO_LARGE = lazy(layout_too_large, str)()  # in the language of the request it is shown in


class TargetForm(forms.Form):
    """Which layout: a funnel, and either everyone's or one user's personal layout."""

    category = forms.IntegerField(min_value=0, max_value=MAX_ID, required=False)
    scope = forms.ChoiceField(choices=SCOPES, required=False)
    user = forms.IntegerField(min_value=1, max_value=MAX_ID, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("scope") == "P" and not data.get("user"):
            raise forms.ValidationError(_("Pick the person whose layout you want to edit."))
        return data

    def target(self, default_category: int) -> Target:
        data = self.cleaned_data
        category = data.get("category")
        category = default_category if category is None else category
        if data.get("scope") == "P":
            return Target(category, "P", int(data["user"]))
        return Target(category)


def _layout_from_text(text: str) -> Layout:
    try:
        return layout_parse(layout_json_load(text))
    except LayoutInvalid as exc:
        raise forms.ValidationError([p.message for p in exc.problems]) from exc


class EditorForm(TargetForm):
    layout = forms.CharField(max_length=MAX_JSON_BYTES, strip=False, error_messages={"max_length": TOO_LARGE})
    origin = forms.ChoiceField(choices=[("", ""), ("imported", "imported")], required=False)
    baseline = forms.CharField(max_length=MAX_JSON_BYTES, required=False, strip=False)
    op = forms.RegexField(regex=OP_PATTERN, required=False)
    new_title = forms.CharField(max_length=MAX_TYPED_TITLE, required=False)
    target_section = forms.IntegerField(min_value=0, max_value=MAX_SECTIONS, required=False)
    order = forms.CharField(max_length=64 * 1024, required=False)

    def clean_layout(self) -> Layout:
        return _layout_from_text(self.cleaned_data["layout"])

    def clean_order(self) -> list[list[tuple[int, int]]] | None:
        """Drag and drop: [["0:1", "0:0"], ["1:0"]], the original position of each field."""
        raw = self.cleaned_data.get("order") or ""
        if not raw:
            return None
        try:
            value = json.loads(raw)
            if not isinstance(value, list) or len(value) > MAX_SECTIONS:
                raise ValueError("not a list of sections")
            return [[_position(token) for token in section] for section in value]
        except (ValueError, TypeError, RecursionError) as exc:
            raise forms.ValidationError(_("The new order could not be read; try again.")) from exc

    def titles(self) -> list[str]:
        titles = self.data.getlist("title") if hasattr(self.data, "getlist") else []
        return [str(t)[:MAX_TYPED_TITLE] for t in titles[: MAX_SECTIONS + 1]]

    def edit_request(self) -> EditRequest:
        data = self.cleaned_data
        return EditRequest(
            op=data.get("op") or "apply",
            titles=self.titles(),
            new_title=data.get("new_title") or "",
            target_section=data.get("target_section"),
            order=data.get("order"),
        )


def _position(token: Any) -> tuple[int, int]:
    section, _colon, index = str(token).partition(":")
    if not (section.isascii() and section.isdigit() and index.isascii() and index.isdigit()):
        raise ValueError("bad position")
    if len(section) > 3 or len(index) > 3:
        raise ValueError("bad position")
    return int(section), int(index)


class SaveForm(EditorForm):
    action = forms.ChoiceField(
        choices=[
            ("save", gettext_lazy("Save")),
            ("everyone", gettext_lazy("For everyone")),
            ("reset", gettext_lazy("Reset")),
        ]
    )


class CopyForm(EditorForm):
    funnels = forms.TypedMultipleChoiceField(coerce=int, choices=[])

    def __init__(self, *args: Any, funnel_choices: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["funnels"].choices = funnel_choices  # type: ignore[attr-defined]
        self.fields["funnels"].error_messages["required"] = gettext_lazy("Tick at least one funnel to copy to.")


class ImportForm(TargetForm):
    text = forms.CharField(
        max_length=MAX_JSON_BYTES,
        required=False,
        strip=False,
        widget=forms.Textarea,
        error_messages={"max_length": TOO_LARGE},
    )
    file = forms.FileField(required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        upload = data.get("file")
        if upload is not None and upload.size is not None and upload.size > MAX_JSON_BYTES:
            raise forms.ValidationError(_("The file is too large: at most %(n)s KB.") % {"n": MAX_JSON_BYTES // 1024})
        if upload is None and not (data.get("text") or "").strip():
            raise forms.ValidationError(_("Paste a layout or choose a JSON file."))
        return data

    def payload(self) -> str | bytes:
        upload = self.cleaned_data.get("file")
        if upload is not None:
            return bytes(upload.read(MAX_JSON_BYTES + 1))
        return str(self.cleaned_data.get("text") or "")


class LayoutVersionForm(forms.Form):
    version = forms.IntegerField(min_value=1, max_value=2**63 - 1)


class DiffForm(forms.Form):
    a = forms.IntegerField(min_value=1, max_value=2**63 - 1)
    b = forms.IntegerField(min_value=1, max_value=2**63 - 1)


class ExportForm(TargetForm):
    version = forms.IntegerField(min_value=1, max_value=2**63 - 1, required=False)


class UserSearchForm(TargetForm):
    q = forms.CharField(max_length=100, required=False)


class AccessForm(TargetForm):
    add = forms.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    remove = forms.IntegerField(min_value=1, max_value=MAX_ID, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("add") and not data.get("remove"):
            raise forms.ValidationError(_("Nothing to change."))
        return data
