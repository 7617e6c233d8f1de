"""Error answers: an HTML page when a browser asks, JSON for API clients; the front door;
the API docs served without a CDN; a schema that generates without warnings."""

from __future__ import annotations

import re
import warnings

import pytest
import yaml
from fastapi.testclient import TestClient

from gateway.app import create_app
from tests.conftest import FIXTURES

# what Chromium sends when it opens a page
BROWSER = ("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
           "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7")


def is_html(r) -> bool:
    return r.headers["content-type"].startswith("text/html")


def test_the_front_door_is_the_form(client):
    r = client.get("/", headers={"Accept": BROWSER}, follow_redirects=False)
    assert r.status_code in (302, 303, 307) and r.headers["location"] == "/lapor"
    r = client.get("/?lang=en", follow_redirects=False)
    assert r.headers["location"] == "/lapor?lang=en"
    assert client.get("/", headers={"Accept": BROWSER}).status_code == 200


def test_unknown_path_is_a_page_for_a_browser(client):
    r = client.get("/tidak-ada", headers={"Accept": BROWSER})
    assert r.status_code == 404 and is_html(r)
    assert "Halaman tidak ditemukan" in r.text and "Page not found" in r.text
    assert 'href="/lapor"' in r.text and 'href="/lacak"' in r.text
    assert "default-src 'self'" in r.headers["content-security-policy"]
    english = client.get("/tidak-ada?lang=en", headers={"Accept": BROWSER})
    assert english.status_code == 404 and "<h1>Page not found</h1>" in english.text


@pytest.mark.parametrize("accept", [None, "*/*", "application/json",
                                    "application/json, text/html;q=0.5",
                                    "application/json, text/html"],
                         ids=["none", "any", "json", "json-preferred", "tie"])
def test_unknown_path_is_json_for_an_api_client(client, accept):
    r = client.get("/tidak-ada", headers={"Accept": accept} if accept else {})
    assert r.status_code == 404
    assert r.json() == {"error": "http_error", "reason": "Not Found"}


@pytest.mark.parametrize(("path", "status"), [
    ("/api/v1/tidak-ada", 404), ("/api/v1/reports/JK7Q-M4XA-9", 404),
    ("/webhooks/tidak-ada", 404),
    ("/staff/api/cases", 401), ("/staff/api/tidak-ada", 404)])
def test_api_paths_answer_json_even_to_a_browser(client, path, status):
    r = client.get(path, headers={"Accept": BROWSER})
    assert r.status_code == status
    assert set(r.json()) >= {"error", "reason"}


@pytest.mark.parametrize("path", ["/open311/v2/tidak-ada.json", "/open311/v2/services.json"])
def test_open311_paths_answer_open311_errors_even_to_a_browser(client, path):
    """An unknown path, or the channel missing from this configuration (503)."""
    r = client.get(path, headers={"Accept": BROWSER})
    assert r.status_code in (404, 503)
    assert r.json() == [{"code": r.status_code, "description": r.json()[0]["description"]}]


def test_method_not_allowed_keeps_its_allow_header(client):
    r = client.delete("/lapor", headers={"Accept": BROWSER})
    assert r.status_code == 405 and is_html(r) and "GET" in r.headers["allow"]


@pytest.mark.parametrize("path", ["/lacak/<script>alert(1)</script>",
                                  "/lacak/<script>alert(1)<",
                                  "/lapor/terima/<script>alert(1)</script>"])
def test_a_script_in_a_tracking_path_is_an_escaped_page(client, path):
    r = client.get(path, headers={"Accept": BROWSER})
    assert r.status_code == 404 and is_html(r)
    assert "<script>alert" not in r.text
    assert "&lt;script&gt;alert(1)&lt;" in r.text


def test_an_api_error_on_a_page_is_a_page(make_kanal, settings, tmp_path):
    """The web form with its channel switched off: a page for the browser, JSON otherwise."""
    data = yaml.safe_load((FIXTURES / "channels.yaml").read_text())
    for channel in data["channels"]:
        if channel["id"] == "web":
            channel["enabled"] = False
    path = tmp_path / "channels.yaml"
    path.write_text(yaml.safe_dump(data))
    kanal = make_kanal(settings=settings.model_copy(update={"config": path}))
    with TestClient(create_app(kanal=kanal, run_workers=False)) as client:
        page = client.get("/lapor", headers={"Accept": BROWSER})
        api = client.get("/lapor")
    assert page.status_code == 503 and is_html(page)
    assert "Layanan sedang gangguan" in page.text and "<script" not in page.text
    assert api.status_code == 503 and api.json()["error"] == "channel_disabled"


def test_error_response_renders_an_outage(client):
    """The signature the database-outage handler uses: 503 with Retry-After."""
    from starlette.requests import Request

    from gateway.errors import error_response

    scope = {"type": "http", "method": "GET", "path": "/lacak/X", "query_string": b"",
             "headers": [(b"accept", BROWSER.encode())], "app": client.app}
    r = error_response(Request(scope), 503, "database_unavailable",
                       "the database does not answer", headers={"Retry-After": "5"})
    body = r.body.decode()
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    assert "Layanan sedang gangguan, silakan coba lagi beberapa saat lagi" in body
    assert "The service is having problems" in body
    scope["headers"] = []
    r = error_response(Request(scope), 503, "database_unavailable", "down")
    assert r.status_code == 503 and r.body == b'{"error":"database_unavailable","reason":"down"}'


ASSET = re.compile(r"""(?:src|href)=["']([^"']+)["']|url:\s*'([^']+)'""")


def test_api_docs_use_only_kanal_served_assets(client):
    r = client.get("/docs")
    assert r.status_code == 200
    urls = {a or b for a, b in ASSET.findall(r.text)}
    assert any(u.endswith(".js") for u in urls) and any(u.endswith(".css") for u in urls)
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        assert client.get(url).status_code == 200, url
    assert "validator.swagger.io" not in r.text
    assert client.get("/redoc").status_code == 404


def test_openapi_schema_generates_without_warnings(kanal):
    app = create_app(kanal=kanal, run_workers=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        schema = app.openapi()
    ids = [op["operationId"] for path in schema["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids))
    assert set(schema["paths"]["/webhooks/{channel_id}"]) == {"get", "post"}


@pytest.mark.browser
def test_api_docs_render_in_chromium_without_outside_requests(make_kanal):
    from tests.browser import launch, live_server

    outside = []
    with live_server(create_app(kanal=make_kanal())) as base, launch() as browser:
        page = browser.new_page()

        def only_kanal(route):
            if route.request.url.startswith(base):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        page.route("**/*", only_kanal)
        page.goto(f"{base}/docs")
        page.locator(".swagger-ui .info .title").wait_for(timeout=15000)
        assert "kanal" in page.locator(".swagger-ui .info .title").inner_text()
        assert page.locator(".opblock-summary-path", has_text="/webhooks/{channel_id}").count() == 2
        page.close()
    assert outside == []
