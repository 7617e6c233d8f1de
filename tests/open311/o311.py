"""Helpers for the Open311 tests: the JSON Schemas (tests/open311/schemas/, written from
the GeoReport v2 spec), XML parsing and a POST with the fields a citizen's app sends."""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

import jsonschema

from tests.open311.conftest import KEY

SCHEMAS = Path(__file__).parent / "schemas"
FORMATS = ("json", "xml")
# what the citizen types into the app: none of it may appear in any GET
PHONE = "081298765432"
EMAIL = "siti.rahayu@example.com"
FIRST, LAST = "Sitirahayu", "Wulandarini"
DESCRIPTION = "Sampah menumpuk di gang Kenari 7, hubungi saya di 081298765432"
ADDRESS = "Jl. Kenari Gang 7 No. 12 RT 03"
ALFA = {"lat": "-6.2051234", "long": "106.8054321"}  # kelurahan Alfa (tests/casework.py)
_OFFSET = re.compile(r"T\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$")

checker = jsonschema.FormatChecker()


@checker.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True  # the type is the schema's business
    if not _OFFSET.search(value):
        return False
    datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


@checker.checks("uri")
def _uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return bool(urlsplit(value).scheme and urlsplit(value).netloc)


@cache
def schema(name: str) -> dict:
    return json.loads((SCHEMAS / f"{name}.json").read_text())


def valid(name: str, data) -> None:
    jsonschema.validate(data, schema(name), format_checker=checker)


def xml(response) -> ET.Element:
    assert response.headers["content-type"].startswith("text/xml"), response.headers
    return ET.fromstring(response.content)


def items(root: ET.Element) -> list[dict[str, str]]:
    """``<list><item><field>text</field>...`` as dicts of text ('' for an empty one)."""
    return [{child.tag: child.text or "" for child in item} for item in root]


def fields(**extra) -> dict[str, str]:
    return {"api_key": KEY, "service_code": "sampah", **ALFA, "description": DESCRIPTION,
            "address_string": ADDRESS, "email": EMAIL, "phone": PHONE,
            "first_name": FIRST, "last_name": LAST, **extra}


def post(api, fmt: str = "json", **extra):
    return api.post(f"/open311/v2/requests.{fmt}",
                    data={k: v for k, v in fields(**extra).items() if v is not None})


def created(api, fmt: str = "json", **extra) -> str:
    """The service_request_id of a new report."""
    response = post(api, fmt, **extra)
    assert response.status_code == 200, response.text
    if fmt == "xml":
        return items(xml(response))[0]["service_request_id"]
    return response.json()[0]["service_request_id"]


def errors(response, fmt: str, status: int) -> str:
    """The one error's description, checked in its format; fails unless ``status``."""
    assert response.status_code == status, response.text
    if fmt == "xml":
        root = xml(response)
        assert root.tag == "errors"
        (error,) = items(root)
        assert error["code"] == str(status)
        return error["description"]
    body = response.json()
    valid("errors", body)
    assert body[0]["code"] == status
    return body[0]["description"]
