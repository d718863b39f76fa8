"""A user field made over REST (crm.deal.userfield.add) reaches the layout admin's field palette.

The app learns fields only from the portal (crm.deal.fields), so this goes through the sandbox's
REST like any other Bitrix24 client, then opens the admin page.
"""

from __future__ import annotations

from tests.widgets.layout_support import (  # noqa: F401 - fixtures
    Installed,
    clean_cache,
    installed_fixture,
    open_admin,
)


def _palette(html: str) -> str:
    return html.split('id="palette-title"')[1].split("</aside>")[0]


def test_a_new_user_field_is_offered_in_the_palette_by_its_form_label(installed: Installed) -> None:
    """crm.deal.fields sends a user field's EDIT_FORM_LABEL as `formLabel`; the palette shows that label."""
    sandbox = installed.sandbox
    sandbox.result(
        "crm.deal.userfield.add",
        {"fields": {"FIELD_NAME": "PO_NUMBER", "USER_TYPE_ID": "string", "LABEL": "Purchase order",
                    "EDIT_FORM_LABEL": {"en": "PO number", "de": "Bestellnummer"}}},
    )  # fmt: skip
    page = open_admin(sandbox, user=1)
    assert page.response.status_code == 200
    palette = _palette(page.response.text)
    assert "PO number" in palette
    assert "UF_CRM_PO_NUMBER" in palette


def test_a_deleted_user_field_leaves_the_palette(installed: Installed) -> None:
    sandbox = installed.sandbox
    field_id = sandbox.result(
        "crm.deal.userfield.add", {"fields": {"FIELD_NAME": "TEMP", "USER_TYPE_ID": "integer", "LABEL": "Temporary"}}
    )
    assert "Temporary" in _palette(open_admin(sandbox, user=1).response.text)
    sandbox.result("crm.deal.userfield.delete", {"id": field_id})
    from django.core.cache import cache

    cache.clear()  # the catalog is kept briefly (widgets.layouts.catalog.CATALOG_TTL)
    assert "Temporary" not in _palette(open_admin(sandbox, user=1).response.text)
