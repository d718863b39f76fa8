"""Property tests over every form of the deal tab and the layout page (and the entry POSTs):
whatever arrives, with a valid widget token or without one, the answer is never a 500.

Hypothesis draws the fields; each example is one real HTTP request to the live server. The
examples per test are kept modest (FUZZ) so the whole reliability suite stays within minutes.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.b24app.conftest import Installed
from tests.widgets.layout_support import AdminPage, editor_fields, open_admin
from tests.widgets.tab_support import DealTab, deal_of, open_tab, portal_query

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # nothing written to .hypothesis/: every run draws afresh
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
EXCEPTION_TEXT = ("Traceback", "Exception", "Error at /")

text = st.text(max_size=80)
numberish = st.one_of(
    st.integers(-(10**15), 10**15).map(str),
    st.decimals(allow_nan=True, allow_infinity=True, places=None).map(str),
    st.sampled_from(["", " ", "1 200,50", "1,200.50", "1e308", "-0", "٣", "²", "0x10", "1_000", "∞", "NaN"]),
    text,
)
ids = st.one_of(st.integers(-5, 2**64).map(str), st.sampled_from(["", "0", "1", "2", "abc", "1.5", "-1", "٣"]), text)
json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
).map(lambda value: json.dumps(value))


def never_500(response: requests.Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:1500])
    assert not any(marker in response.text for marker in EXCEPTION_TEXT), response.text[:1500]


# --- the deal tab ------------------------------------------------------------------------------------------


@pytest.fixture
def tab(installed: Installed) -> DealTab:
    opened = open_tab(installed.sandbox, deal_of(3), user=3)
    assert '<form id="editor"' in opened.page, opened.page[:2000]
    return opened


ACTIONS = ["recalc", "add", "add_text", "paste", "cancel", "keep_theirs", "save", "overwrite", "undo"]
ROW_FIELDS = ["id", "product_id", "name", "price", "quantity", "measure_code", "measure_code_for", "measure_name"]
ROW_FIELDS += ["discount_type", "discount", "tax_rate", "tax_included", "price_currency"]


@st.composite
def editor_posts(draw: Any, page_fields: list[tuple[str, str]]) -> list[tuple[str, str]]:
    fields = dict(page_fields)
    action = draw(
        st.one_of(
            st.sampled_from(ACTIONS),
            st.builds("{}:{}".format, st.sampled_from(["delete", "up", "down", "add_product"]), ids),
            text,
        )
    )
    count = draw(st.one_of(st.integers(0, 5).map(str), ids))
    rows = int(count) if count.isdigit() and int(count) <= 5 else 2
    data = [
        ("state", draw(st.sampled_from([fields["state"], fields["state"][:-4] + "AAAA", ""]) | text)),
        ("undo", draw(st.sampled_from([fields.get("undo", ""), ""]) | text)),
        ("theirs", draw(st.sampled_from([fields.get("theirs", ""), ""]) | text)),
        ("rows-count", count),
        ("action", action),
        ("q", draw(text)),
        ("paste", draw(st.one_of(text, st.lists(st.tuples(text, numberish, numberish), max_size=4).map(_tsv)))),
    ]
    for index in range(rows):
        for name in ROW_FIELDS:
            kept = fields.get(f"rows-{index}-{name}", "")
            data.append((f"rows-{index}-{name}", draw(st.one_of(st.just(kept), numberish, ids))))
    return data


def _tsv(lines: list[tuple[str, str, str]]) -> str:
    return "\n".join("\t".join(cells) for cells in lines)


@FUZZ
@given(data=st.data(), htmx=st.booleans())
def test_no_editor_post_yields_a_500(tab: DealTab, data: Any, htmx: bool) -> None:
    posted = data.draw(editor_posts(tab.fields))
    response = tab.session.post(tab.url("tab_rows"), data=posted, headers=tab.headers(htmx=htmx), timeout=30)
    never_500(response)
    assert response.status_code in (200, 400, 403)


@FUZZ
@given(q=text, cur=text, extra=text, htmx=st.booleans())
def test_no_search_or_reload_yields_a_500(tab: DealTab, q: str, cur: str, extra: str, htmx: bool) -> None:
    headers = tab.headers(htmx=htmx)
    never_500(tab.session.get(tab.url("tab_products"), params={"q": q, "cur": cur}, headers=headers, timeout=30))
    never_500(tab.session.get(tab.url("tab_show"), params={"x": extra}, headers=headers, timeout=30))


PLACEMENT_FIELDS = ["AUTH_ID", "AUTH_EXPIRES", "REFRESH_ID", "APPLICATION_TOKEN", "PLACEMENT", "PLACEMENT_OPTIONS"]


@FUZZ
@given(
    values=st.fixed_dictionaries({name: st.one_of(text, json_like, ids) for name in PLACEMENT_FIELDS}),
    known_member=st.booleans(),
    lang=st.one_of(st.sampled_from(["en", "ru", "de", ""]), text),
    path=st.sampled_from(["deal-tab/", "", "b24/install/"]),
)
def test_no_placement_or_install_post_yields_a_500(
    installed: Installed, values: dict[str, str], known_member: bool, lang: str, path: str
) -> None:
    form = {**values, "member_id": installed.portal.member_id if known_member else values["AUTH_ID"][:64]}
    url = f"{installed.sandbox.app_url}{path}?{portal_query(installed.sandbox, LANG=lang)}"
    never_500(requests.post(url, data=form, timeout=30))


@FUZZ
@given(body=st.one_of(text, st.binary(max_size=200).map(lambda b: b.decode("latin-1")), json_like), known=st.booleans())
def test_no_event_body_yields_a_500(installed: Installed, body: str, known: bool) -> None:
    from b24app import phpform

    if known:  # a genuine envelope around random data
        auth = {"member_id": installed.portal.member_id, "application_token": installed.application_token}
        body = phpform.encode({"event": "ONCRMDEALUPDATE", "data": {"FIELDS": {"ID": body}}, "ts": body, "auth": auth})
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    never_500(requests.post(f"{installed.sandbox.app_url}b24/events/", data=body.encode(), headers=headers, timeout=30))


# --- the layout page ----------------------------------------------------------------------------------------


@pytest.fixture
def admin(installed: Installed) -> AdminPage:
    page = open_admin(installed.sandbox, user=1)
    assert page.response.status_code == 200, page.response.text[:2000]
    return page


target = st.fixed_dictionaries({"category": ids, "scope": st.sampled_from(["", "C", "P", "X"]) | text, "user": ids})


@FUZZ
@given(
    query=target,
    version=ids,
    a=ids,
    b=ids,
    q=text,
    htmx=st.booleans(),
)
def test_no_layout_read_yields_a_500(
    admin: AdminPage, query: dict[str, str], version: str, a: str, b: str, q: str, htmx: bool
) -> None:
    never_500(admin.get("layout_page", query, htmx=htmx))
    never_500(admin.get("layout_export", {**query, "version": version}, htmx=htmx))
    never_500(admin.get("layout_diff", {"a": a, "b": b}, htmx=htmx))
    never_500(admin.get("layout_users", {**query, "q": q}, htmx=htmx))


OPS = ["apply", "preview", "section_add", "field_up:0:0", "field_remove:0:1", "field_add:OPPORTUNITY"]


@st.composite
def layout_posts(draw: Any, page_fields: list[tuple[str, str]]) -> list[tuple[str, str]]:
    fields = [(k, v) for k, v in page_fields if k != "title"]
    titles = [v for k, v in page_fields if k == "title"]
    layout = dict(fields)["layout"]
    data = [(k, v) for k, v in fields if k not in ("layout", "category")]
    data += [
        ("layout", draw(st.sampled_from([layout, layout[:-5], "[]"]) | json_like)),
        ("category", draw(st.sampled_from(["0", "1", ""]) | ids)),
        ("op", draw(st.sampled_from(OPS) | text)),
        ("new_title", draw(text)),
        ("target_section", draw(ids)),
        ("order", draw(json_like | text)),
        ("action", draw(st.sampled_from(["save", "everyone", "reset"]) | text)),
        ("origin", draw(st.sampled_from(["", "imported"]) | text)),
    ]
    data += [("title", draw(st.sampled_from([t, ""]) | text)) for t in titles]
    data += [("funnels", draw(ids)) for _ in range(draw(st.integers(0, 3)))]
    return data


@FUZZ
@given(data=st.data(), endpoint=st.sampled_from(["layout_edit", "layout_save", "layout_copy"]), htmx=st.booleans())
def test_no_layout_editor_post_yields_a_500(admin: AdminPage, data: Any, endpoint: str, htmx: bool) -> None:
    posted = data.draw(layout_posts(editor_fields(admin.response.text)))
    response = admin.post(endpoint, posted, htmx=htmx)
    never_500(response)
    assert response.status_code in (200, 400, 403)


@FUZZ
@given(
    text_=st.one_of(text, json_like),
    upload=st.one_of(st.none(), st.binary(max_size=300)),
    name=text,
    query=target,
    version=ids,
    add=ids,
    remove=ids,
    htmx=st.booleans(),
)
def test_no_import_rollback_or_access_post_yields_a_500(
    admin: AdminPage,
    text_: str,
    upload: bytes | None,
    name: str,
    query: dict[str, str],
    version: str,
    add: str,
    remove: str,
    htmx: bool,
) -> None:
    files = {"file": (name or "x.json", upload)} if upload is not None else None
    never_500(admin.post("layout_import", {**query, "text": text_}, files=files, htmx=htmx))
    never_500(admin.post("layout_rollback", {"version": version}, htmx=htmx))
    never_500(admin.post("layout_access", {**query, "add": add, "remove": remove}, htmx=htmx))
