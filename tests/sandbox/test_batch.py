"""`batch` as Bitrix24's rest module runs it (reference: bitrix24-batch.md).

Sources named per test: rest_provider.php CRestProvider::methodsBatch (the loop, halt, the answer),
rest_util.php CRestUtil::processBatchElement (references), rest.php CRestServer::processCall (the
envelope's time block). Every request goes over real HTTP, as a client sends it.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.conftest import SandboxPortal


def form_batch(sandbox: SandboxPortal, body: str) -> Any:
    """POST a batch form-encoded, as BX24.js and PHP clients send it."""
    response = requests.post(
        sandbox.rest_url("batch"),
        data=f"{body}&auth={sandbox.token()}".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()["result"]


def deal_title(sandbox: SandboxPortal, deal_id: Any) -> str:
    return str(sandbox.result("crm.deal.get", {"id": deal_id})["TITLE"])


# --- answer shapes: PHP arrays keyed 0..n-1 are JSON lists ----------------------------------------


def test_cmd_keyed_0_and_1_in_json_is_answered_with_lists(sandbox: SandboxPortal) -> None:
    """methodsBatch: json_decode makes keys "0","1" integers, so every map is a PHP list.

    Expected: result ["USD", "USD"] (the base currency twice), result_time a list of two,
    result_error, result_total, result_next empty: [].
    """
    base = sandbox.result("crm.currency.base.get")
    body = sandbox.result("batch", {"cmd": {"0": "crm.currency.base.get", "1": "crm.currency.base.get"}})
    assert body["result"] == [base, base]
    assert isinstance(body["result_time"], list) and len(body["result_time"]) == 2
    assert body["result_error"] == [] and body["result_total"] == [] and body["result_next"] == []
    assert list(body) == ["result", "result_error", "result_total", "result_next", "result_time"]


def test_a_list_form_cmd_answers_lists_and_an_object_for_keys_with_a_gap(sandbox: SandboxPortal) -> None:
    """methodsBatch: cmd sent as a JSON list (b24pysdk's list batches) is keyed 0..n-1.

    Expected: result [base] (command 1 failed, so keys {0} is a list), result_error an object
    {"1": {...}} (keys {1} are not 0..n-1).
    """
    base = sandbox.result("crm.currency.base.get")
    body = sandbox.result("batch", {"cmd": ["crm.currency.base.get", "no.such.method"]})
    assert body["result"] == [base]
    assert body["result_error"] == {"1": {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"}}


def test_form_encoded_cmd_with_numeric_keys_is_answered_with_lists(sandbox: SandboxPortal) -> None:
    """methodsBatch over parse_str: cmd[0]=…&cmd[1]=… are integer keys 0 and 1.

    Expected: result [base, base].
    """
    base = sandbox.result("crm.currency.base.get")
    body = form_batch(sandbox, "cmd%5B0%5D=crm.currency.base.get&cmd%5B1%5D=crm.currency.base.get")
    assert body["result"] == [base, base]


def test_numeric_keys_out_of_order_are_answered_as_an_object(sandbox: SandboxPortal) -> None:
    """methodsBatch / json_encode: keys 1, 0 are not 0..n-1 in order, so the answer is an object.

    Expected: result {"1": base, "0": base} in that order.
    """
    base = sandbox.result("crm.currency.base.get")
    body = sandbox.result("batch", {"cmd": {"1": "crm.currency.base.get", "0": "crm.currency.base.get"}})
    assert list(body["result"].items()) == [("1", base), ("0", base)]


# --- the envelope ---------------------------------------------------------------------------------


def test_the_batch_answer_time_block_carries_operating_and_operating_reset_at(sandbox: SandboxPortal) -> None:
    """CRestServer::processCall appends the operating fields to every answer, batch's too.

    Expected: time.operating 0 (the outer batch is not counted) and time.operating_reset_at a
    Unix time within the next 10 minutes; inner result_time entries carry neither.
    """
    response = sandbox.call("batch", {"cmd": {"a": "crm.currency.base.get"}})
    time_block = response.json()["time"]
    assert time_block["operating"] == 0
    assert time_block["start"] < time_block["operating_reset_at"] <= time_block["start"] + 600
    inner = response.json()["result"]["result_time"]["a"]
    assert "operating" not in inner and "operating_reset_at" not in inner


# --- halt -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("halt", "stops"), [("false", True), ("N", True), ("2", True), ("0", False), ("", False)])
def test_halt_is_php_truthiness(sandbox: SandboxPortal, halt: str, stops: bool) -> None:
    """methodsBatch: `$bHalt = (bool)$arQuery['HALT']`; only "" and "0" are false among strings.

    Expected: with "false", "N", "2" the command after a failing one does not run (absent from
    result); with "0" and "" it runs.
    """
    body = form_batch(sandbox, f"halt={halt}&cmd%5Bbad%5D=no.such.method&cmd%5Bafter%5D=crm.currency.base.get")
    assert "bad" in body["result_error"]
    assert ("after" in body["result"]) is not stops


def test_halt_past_fifty_commands_stops_at_the_first_refused_one(sandbox: SandboxPortal) -> None:
    """methodsBatch: the 51st command gets ERROR_BATCH_LENGTH_EXCEEDED, then `$res['error'] && $bHalt` breaks.

    Expected: 50 results, result_error holds only c50 (the 51st), not c51.
    """
    cmd = {f"c{i}": "crm.currency.base.get" for i in range(52)}
    body = sandbox.result("batch", {"halt": 1, "cmd": cmd})
    assert len(body["result"]) == 50
    assert body["result_error"] == {
        "c50": {"error": "ERROR_BATCH_LENGTH_EXCEEDED", "error_description": "Max batch length exceeded"}
    }


# --- references -----------------------------------------------------------------------------------


def test_text_glued_after_a_reference_is_dropped(sandbox: SandboxPortal) -> None:
    """processBatchElement: `\\$(result|…)([^\\s]*)` runs to the next whitespace, so the whole value is one reference.

    Expected: the copy's TITLE is the original title alone ("Source"), without "-copy".
    """
    body = sandbox.result(
        "batch",
        {
            "cmd": {
                "src": "crm.deal.add?fields[TITLE]=Source",
                "get": "crm.deal.get?id=$result[src]",
                "copy": "crm.deal.add?fields[TITLE]=$result[get][TITLE]-copy",
            }
        },
    )
    assert deal_title(sandbox, body["result"]["copy"]) == "Source"


def test_a_second_reference_glued_to_the_first_is_swallowed(sandbox: SandboxPortal) -> None:
    """processBatchElement: `$result[a][ID],$result[b][ID]` is one match whose path stops at a's ID.

    Expected: TITLE is a's id alone, not "a,b".
    """
    body = sandbox.result(
        "batch",
        {
            "cmd": {
                "a": "crm.deal.add?fields[TITLE]=A",
                "b": "crm.deal.add?fields[TITLE]=B",
                "ga": "crm.deal.get?id=$result[a]",
                "gb": "crm.deal.get?id=$result[b]",
                "both": "crm.deal.add?fields[TITLE]=$result[ga][ID],$result[gb][ID]",
            }
        },
    )
    assert deal_title(sandbox, body["result"]["both"]) == str(body["result"]["a"])


def test_result_total_reference_reads_result(sandbox: SandboxPortal) -> None:
    """processBatchElement: the name alternation matches `$result`, so `_total[..]` is path text.

    Expected: `$result_total[src][TITLE]` gives the title of command src's result ("Totalled").
    """
    body = sandbox.result(
        "batch",
        {
            "cmd": {
                "add": "crm.deal.add?fields[TITLE]=Totalled",
                "src": "crm.deal.get?id=$result[add]",
                "copy": "crm.deal.add?fields[TITLE]=$result_total[src][TITLE]",
            }
        },
    )
    assert deal_title(sandbox, body["result"]["copy"]) == "Totalled"


def test_a_boolean_inside_a_longer_value_leaves_the_text_as_it_is(sandbox: SandboxPortal) -> None:
    """processBatchElement: inside a longer value only a string or a number replaces the reference.

    Expected: crm.deal.update returned true, so the TITLE stays "flag $result[up]" (not "flag 1").
    """
    body = sandbox.result(
        "batch",
        {
            "cmd": {
                "add": "crm.deal.add?fields[TITLE]=x",
                "up": "crm.deal.update?id=$result[add]&fields[TITLE]=y",
                "flag": "crm.deal.add?fields[TITLE]=flag $result[up]",
            }
        },
    )
    assert body["result"]["up"] is True
    assert deal_title(sandbox, body["result"]["flag"]) == "flag $result[up]"


def test_a_cmd_that_is_not_an_array_runs_nothing(sandbox: SandboxPortal) -> None:
    """methodsBatch: `foreach ($arQuery['CMD'] …)` over a string iterates nothing; no error is raised.

    Expected: HTTP 200 and all five maps empty ([]).
    """
    body = sandbox.result("batch", {"cmd": "crm.currency.base.get"})
    assert body == {"result": [], "result_error": [], "result_total": [], "result_next": [], "result_time": []}


def test_a_reference_written_in_capitals_matches_but_finds_nothing(sandbox: SandboxPortal) -> None:
    """processBatchElement: the regex is /i but `$arResult['RESULT']` does not exist, so the value is null.

    Expected: `$RESULT[add]` inside a longer value is left as text: TITLE "id $RESULT[add]".
    """
    body = sandbox.result(
        "batch",
        {"cmd": {"add": "crm.deal.add?fields[TITLE]=x", "copy": "crm.deal.add?fields[TITLE]=id $RESULT[add]"}},
    )
    assert deal_title(sandbox, body["result"]["copy"]) == "id $RESULT[add]"


def test_download_and_upload_are_refused_by_name(sandbox: SandboxPortal) -> None:
    """methodsBatch: `$method === METHOD_DOWNLOAD || METHOD_UPLOAD` gives ERROR_BATCH_METHOD_NOT_ALLOWED.

    Expected: both commands refused with that code, not ERROR_METHOD_NOT_FOUND.
    """
    body = sandbox.result("batch", {"cmd": {"d": "download?x=1", "u": "upload"}})
    assert {k: v["error"] for k, v in body["result_error"].items()} == {
        "d": "ERROR_BATCH_METHOD_NOT_ALLOWED",
        "u": "ERROR_BATCH_METHOD_NOT_ALLOWED",
    }
