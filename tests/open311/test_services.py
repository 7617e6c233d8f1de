"""Open311 services, service definitions, discovery, the error format and the schema."""

from __future__ import annotations

import pytest
import yaml

from tests.open311.conftest import BASE, REPO
from tests.open311.o311 import FORMATS, errors, items, valid, xml

CATEGORIES = yaml.safe_load((REPO / "config" / "categories.yaml").read_text())["categories"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_services_are_kanals_categories(api, fmt):
    response = api.get(f"/open311/v2/services.{fmt}", params={"jurisdiction_id":
                                                               "jakarta.go.id"})
    assert response.status_code == 200
    if fmt == "json":
        services = response.json()
        valid("services", services)
    else:
        root = xml(response)
        assert root.tag == "services" and {e.tag for e in root} == {"service"}
        services = items(root)
    assert [s["service_code"] for s in services] == [c["id"] for c in CATEGORIES]
    sampah = next(s for s in services if s["service_code"] == "sampah")
    assert sampah["service_name"] == "Sampah"
    assert sampah["description"] == "Rubbish"
    assert sampah["type"] == "realtime"
    assert sampah["metadata"] in (False, "false")
    assert "Tumpukan Sampah" in sampah["keywords"]
    assert sampah["group"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_service_definition(api, fmt):
    response = api.get(f"/open311/v2/services/banjir.{fmt}")
    assert response.status_code == 200
    if fmt == "json":
        valid("service-definition", response.json())
        assert response.json() == {"service_code": "banjir", "attributes": []}
    else:
        root = xml(response)
        assert root.tag == "service_definition"
        assert root.findtext("service_code") == "banjir"
        assert root.find("attributes") is not None and len(root.find("attributes")) == 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_unknown_service_is_404(api, fmt):
    assert "tidak-ada" in errors(api.get(f"/open311/v2/services/tidak-ada.{fmt}"), fmt, 404)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("path", ["services", "services/sampah", "requests",
                                  "requests/JK7Q-M4XA-9"])
def test_another_jurisdiction_is_refused(api, fmt, path):
    response = api.get(f"/open311/v2/{path}.{fmt}", params={"jurisdiction_id": "bogor.go.id"})
    assert "bogor.go.id" in errors(response, fmt, 400)


def test_jurisdiction_is_configured(open311_kanal):
    from fastapi.testclient import TestClient

    from gateway.app import create_app
    from tests.open311.conftest import ENV

    kanal = open311_kanal(env={**ENV, "KANAL_OPEN311_JURISDICTION": "depok.go.id"})
    with TestClient(create_app(kanal=kanal)) as c:
        assert c.get("/open311/v2/services.json",
                     params={"jurisdiction_id": "depok.go.id"}).status_code == 200
        errors(c.get("/open311/v2/services.json",
                     params={"jurisdiction_id": "jakarta.go.id"}), "json", 400)


def test_discovery(api):
    response = api.get("/open311/discovery.json")
    assert response.status_code == 200
    body = response.json()
    valid("discovery", body)
    (endpoint,) = body["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == f"{BASE}/open311/v2/"
    assert set(endpoint["formats"]) == {"application/json", "text/xml"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_generic_errors_answer_in_open311_format(open311_kanal, fmt):
    from fastapi.testclient import TestClient

    from gateway.app import create_app

    with TestClient(create_app(kanal=open311_kanal(max_body_bytes=4096))) as api:
        errors(api.get(f"/open311/v2/no-such-thing.{fmt}"), fmt, 404)
        errors(api.delete(f"/open311/v2/services.{fmt}"), fmt, 405)
        big = {"api_key": "x", "description": "a" * 5000}
        errors(api.post(f"/open311/v2/requests.{fmt}", data=big), fmt, 413)
        # streamed without a length: counted as it comes in
        chunks = (b"description=" + b"a" * 1000 for _ in range(6))
        errors(api.post(f"/open311/v2/requests.{fmt}", content=chunks, headers={
            "content-type": "application/x-www-form-urlencoded"}), fmt, 413)


def test_an_unknown_format_is_refused_in_json(api):
    assert "csv" in errors(api.get("/open311/v2/services.csv"), "json", 400)
    assert "csv" in errors(api.get("/open311/v2/requests/JK7Q-M4XA-9.csv"), "json", 400)


def test_routes_are_in_the_openapi_schema(api):
    paths = api.get("/openapi.json").json()["paths"]
    expected = {"/open311/discovery.json": ["get"],
                "/open311/v2/services.{fmt}": ["get"],
                "/open311/v2/services/{code}.{fmt}": ["get"],
                "/open311/v2/requests.{fmt}": ["get", "post"],
                "/open311/v2/requests/{request_id}.{fmt}": ["get"]}
    for path, methods in expected.items():
        for method in methods:
            assert paths[path][method]["tags"] == ["open311"], (path, method)
