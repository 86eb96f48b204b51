"""A client's COMMIT through the proxy waits for a person, who approves it on goex-review's
page: the page shows the proxied transaction's rows, and the client's COMMIT returns."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg

from tests.web.conftest import serve


def test_a_proxied_commit_is_approved_on_the_review_page(proxy_factory: Any, table: str) -> None:
    proxy = proxy_factory("person")
    server = serve()
    try:
        client = server.client()
        assert client.sign_in(user="", password="", token=server.token).status == 200
        with psycopg.connect(proxy.dsn()) as con:
            con.execute(f"UPDATE {table} SET v = 'seen on the page' WHERE id = 4")
            with ThreadPoolExecutor(1) as pool:
                committing = pool.submit(con.commit)
                deadline = time.monotonic() + 30
                while not (
                    ids := re.findall(r'<tr data-id="(\w+)"', client.get("/queue/rows").body)
                ):
                    assert time.monotonic() < deadline, "the COMMIT never waited for a person"
                    time.sleep(0.2)
                page = client.get(f"/actions/{ids[0]}")
                assert "seen on the page" in page.body and 'class="changed"' in page.body
                assert not committing.done()
                digest = page.body.split('id="digest">', 1)[1].split("<", 1)[0]
                form = {"csrf": page.csrf(), "digest": digest, "verdict": "approve"}
                assert "approved" in client.post(f"/actions/{ids[0]}/decide", form).body
                committing.result(timeout=30)
        assert proxy.direct(f"SELECT v FROM {table} WHERE id = 4") == [("seen on the page",)]
    finally:
        server.running.proc.terminate()
        server.running.finish(timeout=30)
