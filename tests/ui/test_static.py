"""mount_ui on a bare FastAPI app: static widget files, demo page and the console mount."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ui import mount_ui
from ui.server import STATIC_DIR


@pytest.fixture
def client(fake_backend: Any) -> Iterator[TestClient]:
    app = FastAPI()
    mount_ui(app, fake_backend)
    with TestClient(app) as c:
        yield c


def test_widget_js_is_javascript(client: TestClient) -> None:
    res = client.get("/widget.js")
    assert res.status_code == 200
    assert res.headers["content-type"].startswith("text/javascript")
    assert "max-age" in res.headers["cache-control"]
    assert "/v1/chat/stream" in res.text


def test_widget_css_is_css(client: TestClient) -> None:
    res = client.get("/widget.css")
    assert res.status_code == 200
    assert res.headers["content-type"].startswith("text/css")
    assert ".csa-root" in res.text


def test_index_embeds_widget_with_one_tag(client: TestClient) -> None:
    res = client.get("/")
    assert res.status_code == 200
    assert res.headers["content-type"].startswith("text/html")
    assert "Harbor &amp; Pine" in res.text
    scripts = re.findall(r"<script\b[^>]*>", res.text)
    assert len(scripts) == 1
    assert 'src="/widget.js"' in scripts[0]
    # self-contained: no external assets, fonts or CDNs
    assert not re.search(r"""(src|href)=["']https?://""", res.text)


def test_console_answers_behind_a_login(client: TestClient, fake_backend: Any) -> None:
    res = client.get("/console/", follow_redirects=True)
    assert res.status_code == 200
    assert "text/html" in res.headers["content-type"]
    assert client.get("/console/config").status_code == 401  # the app's config needs a login

    bad = client.post("/console/login", data={"username": "sam", "password": "wrong"})
    assert bad.status_code == 400
    ok = client.post(
        "/console/login", data={"username": "sam", "password": "correct horse battery"}
    )
    assert ok.status_code == 200 and ok.json() == {"success": True}
    config = client.get("/console/config")
    assert config.status_code == 200


def test_widget_never_uses_html_sinks() -> None:
    source = (STATIC_DIR / "widget.js").read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in source, sink
