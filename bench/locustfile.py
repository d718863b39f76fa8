"""Locust users of benchmark 3: each opens deal tabs as the portal does, one after another.

The placement forms (a portal user's token, a deal) are prepared by bench/throughput.py and read
from the JSON file named by BENCH_LOCUST_FORMS; user N of the swarm uses form N. An open is the
placement POST (its first paint, a skeleton: "open deal tab: first paint") and the fill the skeleton
sends at once ("open deal tab", counted as the open: its figures are the ones the throughput reports).
"""

from __future__ import annotations

import itertools
import json
import os
import time
from pathlib import Path
from typing import Any

from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser

from bench.portal import opening_of

FORMS: list[dict[str, Any]] = json.loads(Path(os.environ.get("BENCH_LOCUST_FORMS", "/dev/null")).read_text() or "[]")
_slots = itertools.count()


class TabOpener(FastHttpUser):
    wait_time = constant(0)  # a closed loop: the next tab opens as soon as the last one answered

    def on_start(self) -> None:
        self.form = FORMS[next(_slots) % len(FORMS)]

    @task
    def open_tab(self) -> None:
        with self.client.post(
            self.form["path"], data=self.form["form"], name="open deal tab: first paint", catch_response=True
        ) as painted:
            opening = opening_of(painted.text or "") if painted.status_code == 200 else None
            if opening is None:
                painted.failure(f"HTTP {painted.status_code}, no skeleton")
                return
        while opening is not None:  # the fill, and its polls while Bitrix24 is busy (limits are off here)
            time.sleep(opening.delay)  # gevent's, under locust
            headers = {"X-Opening-Token": opening.token, "HX-Request": "true"}
            with self.client.post(
                opening.url, data=dict(opening.fields), headers=headers, name="open deal tab", catch_response=True
            ) as response:
                text = response.text or ""
                opening = opening_of(text) if response.status_code == 200 else None
                if opening is None and (response.status_code != 200 or '<form id="editor"' not in text):
                    response.failure(f"HTTP {response.status_code}, no editor")
