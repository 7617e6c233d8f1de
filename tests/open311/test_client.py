"""The ``georeport`` client from PyPI reads kanal's services and requests from a real
server (uvicorn on a loopback port), in JSON and in XML. georeport 0.3.1 cannot POST, so
the report is filed with a plain form POST as any Open311 app sends it."""

from __future__ import annotations

import httpx
import pytest
import requests
from georeport import GeoReport

from tests.browser import live_server
from tests.open311.o311 import EMAIL, FIRST, FORMATS, PHONE, fields


@pytest.fixture
def server(kanal):
    from gateway.app import create_app

    with live_server(create_app(kanal=kanal)) as base:
        yield base


@pytest.mark.parametrize("fmt", FORMATS)
def test_georeport_client_reads_services_and_requests(server, fmt):
    filed = httpx.post(f"{server}/open311/v2/requests.json", data=fields(), timeout=30)
    assert filed.status_code == 200, filed.text
    shown = filed.json()[0]["service_request_id"]
    client = GeoReport(f"{server}/open311/v2", jurisdiction="jakarta.go.id",
                       output_format=fmt)

    services = client.get_service_list()
    assert "sampah" in [s["service_code"] for s in services]
    definition = client.get_service_definition("sampah")
    assert definition["service_code"] == "sampah"

    # one request: xmltodict gives a dict for a lone <request>, JSON a list of one
    listed = client.get_service_requests(status="open")
    listed = [listed] if isinstance(listed, dict) else listed
    assert [r["service_request_id"] for r in listed] == [shown]
    one = client.get_service_request(shown)
    assert one["service_request_id"] == shown
    assert one["status"] == "open" and one["service_code"] == "sampah"
    if fmt == "json":  # georeport cannot read an empty <service_requests/>
        assert client.get_service_requests(service_code="banjir") == []
    for value in one.values():
        assert str(value or "") not in (PHONE, EMAIL, FIRST)

    with pytest.raises(requests.HTTPError) as refused:
        GeoReport(f"{server}/open311/v2", jurisdiction="bogor.go.id",
                  output_format=fmt).get_service_list()
    assert refused.value.response.status_code == 400
