"""Markup and script in every field a person controls, typed into Deal Desk or stored in Bitrix24:
it always comes back as text (escaped), on full pages and on htmx partials alike.
"""

from __future__ import annotations

import html
import json
import re

import pytest
import requests

from tests.b24app.conftest import Installed
from tests.widgets.layout_support import AdminPage, editor_fields, open_admin
from tests.widgets.tab_support import DealTab, deal_of, open_tab

PAYLOADS = [
    '<script>alert("dd1")</script>',
    '"><img src=x onerror=alert(2)>',
    "'><svg onload=alert(3)>",
    '" autofocus onfocus="alert(4)" x="',
    "</textarea><script>alert(5)</script>",
    "{{ request.META }}{% debug %}",
]
# What would run if any payload came back unescaped, in text or in an attribute.
LIVE = ["<script>alert(", "<img src=x", "<svg onload", 'autofocus onfocus="alert', "</textarea><script>"]
ECHOED = ["&lt;script&gt;alert(", "&lt;img src=x", "&lt;svg onload", "onfocus=&quot;alert", "&lt;/textarea&gt;"]


def inert(*responses: requests.Response) -> str:
    """Assert nothing live came back; return all the text, to check that the payloads did come back."""
    text = "\n".join(r.text for r in responses)
    for response in responses:
        assert response.status_code < 500, response.status_code
        found = [marker for marker in LIVE if marker in response.text]
        assert found == [], (response.url, found)
        assert "HTTP_USER_AGENT" not in response.text and "wsgi.input" not in response.text  # no template injection
    return text


def echoed(text: str, minimum: int = 3) -> None:
    assert sum(marker in text for marker in ECHOED) >= minimum, "the payloads did not come back at all"


@pytest.fixture
def tab(installed: Installed) -> DealTab:
    opened = open_tab(installed.sandbox, deal_of(2), user=2)
    assert '<form id="editor"' in opened.page, opened.page[:2000]
    return opened


def test_typed_product_names_and_units_come_back_as_text_and_are_saved_as_text(tab: DealTab) -> None:
    responses = []
    for i, payload in enumerate(PAYLOADS):
        fields = tab.edit(rows_0_name=payload, rows_0_measure_name=payload[:50])
        responses.append(tab.post("recalc", fields=fields, htmx=bool(i % 2)))
    fields = tab.edit(rows_0_name=PAYLOADS[0], rows_1_name=PAYLOADS[1])
    responses.append(tab.post("save", fields=fields, htmx=False))
    reopened = open_tab(tab.sandbox, tab.deal_id, user=2)

    echoed(inert(*responses, reopened.response))
    assert html.escape(PAYLOADS[0]) in reopened.page


def test_the_search_box_the_new_row_from_it_and_the_paste_box_come_back_as_text(tab: DealTab) -> None:
    responses = []
    for payload in PAYLOADS:
        responses.append(tab.get("tab_products", {"q": payload}))
        responses.append(tab.get("tab_products", {"q": payload}, htmx=False))
        responses.append(tab.post("add_text", htmx=False, fields=tab.edit(q=payload)))
    pasted = "\n".join(f"{p}\t2\t10" for p in PAYLOADS) + "\n" + "\n".join(f"{p}\tmany\t?" for p in PAYLOADS)
    responses.append(tab.post("paste", fields=tab.edit(paste=pasted), htmx=False))
    responses.append(tab.post("paste", fields=tab.edit(paste=pasted)))

    echoed(inert(*responses))


def test_names_stored_in_bitrix24_come_back_as_text(installed: Installed) -> None:
    """Deal titles, contacts, catalog products and people's names are typed by portal users too."""
    from sandbox.models import Contact, Deal, DealContact, Product, User

    deal_id = deal_of(2)
    Deal.objects.filter(pk=deal_id).update(title=PAYLOADS[0])
    contact_ids = list(DealContact.objects.filter(deal_id=deal_id).values_list("contact_id", flat=True))
    Contact.objects.filter(pk__in=contact_ids).update(name=PAYLOADS[1][:100], last_name=PAYLOADS[2])
    Product.objects.filter(pk=Product.objects.order_by("id").values("id")[:1]).update(name="Lap " + PAYLOADS[0])
    mine = open_tab(installed.sandbox, deal_id, user=1)
    theirs = open_tab(installed.sandbox, deal_id, user=2)
    User.objects.filter(pk=2).update(name=PAYLOADS[3], last_name=PAYLOADS[1][:100])
    saved = theirs.post("save", htmx=False, fields=theirs.edit(rows_0_quantity="9"))
    conflict = mine.post("save", htmx=False, fields=mine.edit(rows_0_quantity="4"))
    found = mine.get("tab_products", {"q": "Lap"})
    hit = re.search(r'value="(add_product:[^"]+)"', found.text)
    assert hit, found.text[:2000]
    added = mine.post(html.unescape(hit.group(1)), htmx=False, fields=mine.edit())

    assert "conflict-view" in conflict.text
    echoed(inert(mine.response, theirs.response, saved, conflict, found, added), minimum=2)


@pytest.fixture
def admin(installed: Installed) -> AdminPage:
    page = open_admin(installed.sandbox, user=1)
    assert page.response.status_code == 200, page.response.text[:2000]
    return page


def test_section_titles_typed_into_the_layout_editor_come_back_as_text(admin: AdminPage) -> None:
    fields = [(k, v) for k, v in editor_fields(admin.response.text) if k != "title"]
    titles = [v for k, v in editor_fields(admin.response.text) if k == "title"]
    responses = []
    for i, payload in enumerate(PAYLOADS):
        typed = [*fields, *(("title", payload) for _ in titles)]
        responses.append(admin.post("layout_edit", [*typed, ("op", "apply")], htmx=bool(i % 2)))
        responses.append(admin.post("layout_edit", [*fields, ("op", "section_add"), ("new_title", payload)]))
        responses.append(admin.post("layout_save", [*typed, ("action", "save")]))

    echoed(inert(*responses))


def test_imported_layouts_and_people_searches_come_back_as_text(admin: AdminPage) -> None:
    from sandbox.models import Category, User

    Category.objects.filter(pk=1).update(name=PAYLOADS[2])
    User.objects.filter(pk=4).update(name="Zed " + PAYLOADS[0], last_name=PAYLOADS[1][:100])
    sections = [
        {"name": p[:20], "title": p, "type": "section", "elements": [{"name": "TITLE"}, {"name": p}]} for p in PAYLOADS
    ]
    responses = [
        admin.post("layout_import", {"category": "0", "text": json.dumps(sections)}),
        admin.post("layout_import", {"category": "0", "text": json.dumps(sections)}, htmx=False),
        admin.post("layout_import", {"category": "0"}, files={"file": (PAYLOADS[1], json.dumps(sections).encode())}),
        admin.post("layout_import", {"category": "0", "text": PAYLOADS[4]}),
        admin.get("layout_page", {"category": "1"}),
        admin.get("layout_page", {"category": "1"}, htmx=False),
        admin.get("layout_users", {"q": "Zed"}),
        admin.get("layout_users", {"q": "Zed"}, htmx=False),
    ]
    responses += [admin.get("layout_users", {"q": payload}) for payload in PAYLOADS]

    echoed(inert(*responses))
