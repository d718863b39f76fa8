"""The REST transport: encodings, envelope, auth, errors, limits, batch, request log."""

from __future__ import annotations

from typing import Any

import requests

from tests.conftest import SandboxPortal


def test_user_current_over_json_body_has_the_documented_envelope(sandbox: SandboxPortal) -> None:
    response = sandbox.call("user.current", user=3)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["result"]["ID"] == "3"
    assert set(body["time"]) >= {"start", "finish", "duration", "processing", "date_start", "date_finish", "operating"}


def test_a_form_body_without_content_type_is_parsed_like_bx24_js_sends_it(sandbox: SandboxPortal) -> None:
    token = sandbox.token(2)
    response = requests.post(
        sandbox.rest_url("user.current"),
        data=f"auth={token}".encode(),
        headers={"Content-Type": "text/plain;charset=UTF-8"},
        timeout=10,
    )
    assert response.json()["result"]["ID"] == "2"


def test_unknown_method_is_error_method_not_found_404(sandbox: SandboxPortal) -> None:
    response = sandbox.call("crm.nothing.here")
    assert response.status_code == 404
    assert response.json() == {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"}


def test_missing_auth_is_no_auth_found_and_garbage_token_is_invalid_token(sandbox: SandboxPortal) -> None:
    missing = requests.post(sandbox.rest_url("user.current"), json={}, timeout=10)
    assert (missing.status_code, missing.json()["error"]) == (401, "NO_AUTH_FOUND")
    garbage = sandbox.call("user.current", token="nope")
    assert (garbage.status_code, garbage.json()["error"]) == (401, "invalid_token")


def test_webhook_calls_work_and_app_only_methods_refuse_them(sandbox: SandboxPortal) -> None:
    base = sandbox.webhook(user_id=2)
    assert requests.get(base + "user.current", timeout=10).json()["result"]["ID"] == "2"
    batch = requests.post(base + "batch.json", json={"cmd": {"a": "user.current"}}, timeout=10).json()
    assert batch["result"]["result"]["a"]["ID"] == "2"


def test_batch_passes_results_between_commands_and_reports_errors_per_command(sandbox: SandboxPortal) -> None:
    body = sandbox.result(
        "batch",
        {"halt": 0, "cmd": {"me": "user.current", "same": "user.get?ID=$result[me][ID]", "bad": "no.such.method"}},
    )
    assert body["result"]["same"][0]["ID"] == "1"
    assert body["result_total"] == {"same": 1}
    assert body["result_error"]["bad"]["error"] == "ERROR_METHOD_NOT_FOUND"
    assert body["result_next"] == []
    assert sandbox.log()[-1].batch_size == 3


def test_batch_over_fifty_commands_reports_each_extra_command(sandbox: SandboxPortal) -> None:
    cmd = {f"c{i}": "user.admin" for i in range(52)}
    body = sandbox.result("batch", {"cmd": cmd})
    assert len(body["result"]) == 50
    assert body["result_error"]["c51"]["error"] == "ERROR_BATCH_LENGTH_EXCEEDED"


def test_nested_batch_is_not_allowed(sandbox: SandboxPortal) -> None:
    body = sandbox.result("batch", {"cmd": {"inner": "batch?cmd[a]=user.admin"}})
    assert body["result_error"]["inner"]["error"] == "ERROR_BATCH_METHOD_NOT_ALLOWED"


def test_the_rate_limit_answers_503_query_limit_exceeded_past_the_burst(sandbox: SandboxPortal, settings: Any) -> None:
    settings.SANDBOX_LIMITS_ENABLED = True
    settings.SANDBOX_RATE_BURST = 3
    settings.SANDBOX_RATE_LIMIT = 0.01
    token = sandbox.token()
    statuses = [sandbox.call("user.admin", token=token).status_code for _ in range(5)]
    assert statuses[:3] == [200, 200, 200]
    assert statuses[3:] == [503, 503]
    assert sandbox.call("user.admin", token=token).json()["error"] == "QUERY_LIMIT_EXCEEDED"


def test_every_call_is_in_the_request_log(sandbox: SandboxPortal) -> None:
    sandbox.call("user.current", user=4)
    entry = sandbox.log()[-1]
    assert (entry.method, entry.user_id, entry.http_status) == ("user.current", 4, 200)
