"""Server-rendered pages: Jinja2 templates, texts through gettext catalogues (Babel).

Bahasa Indonesia is the source language; ``locale/<lang>/LC_MESSAGES/kanal.po`` holds the
translations, read with Babel at start-up (no compiled .mo files to keep in step)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import jinja2
from babel.messages.pofile import read_po
from fastapi import Request
from fastapi.responses import HTMLResponse

if TYPE_CHECKING:
    from gateway.runtime import Kanal

HERE = Path(__file__).parent
LANGUAGES = ("id", "en")
DEFAULT_LANGUAGE = "id"
# every page: scripts and styles only from kanal itself, no framing, no sniffing
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; "
                               "object-src 'none'; base-uri 'none'; form-action 'self'; "
                               "frame-ancestors 'none'",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}


def load_catalogs() -> dict[str, dict[str, str]]:
    catalogs: dict[str, dict[str, str]] = {DEFAULT_LANGUAGE: {}}
    for po in sorted((HERE / "locale").glob("*/LC_MESSAGES/kanal.po")):
        with po.open("rb") as fh:
            catalog = read_po(fh)
        catalogs[po.parts[-3]] = {
            m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy
            and isinstance(m.id, str)
        }
    return catalogs


def pick_language(request: Request) -> str:
    """Bahasa Indonesia unless the visitor chose English (``?lang=en``, then a cookie).
    The browser's Accept-Language is not used: many phones in Jakarta are set to English
    while their owners expect a Jakarta government page in Bahasa Indonesia."""
    asked = request.query_params.get("lang") or request.cookies.get("lang")
    return asked if asked in LANGUAGES else DEFAULT_LANGUAGE


def switch_language(request: Request, language: str) -> str:
    """This page in another language: its path and query (a rating link's token) with
    ``lang`` replaced."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    return f"{request.url.path}?{urlencode([*params, ('lang', language)])}"


class Pages:
    def __init__(self, kanal: Kanal):
        self.kanal = kanal
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=jinja2.select_autoescape(default=True),
            undefined=jinja2.StrictUndefined,
        )
        self.env.globals["switch_language"] = switch_language
        self.catalogs = load_catalogs()

    def gettext(self, language: str):
        catalog = self.catalogs.get(language, {})
        return lambda text, **kw: (catalog.get(text) or text) % kw if kw else (
            catalog.get(text) or text)

    def render(self, request: Request, template: str, context: dict[str, Any],
               status_code: int = 200) -> HTMLResponse:
        language = pick_language(request)
        page = self.env.get_template(template).render(
            request=request, lang=language, _=self.gettext(language),
            categories=self.kanal.category_list, **context,
        )
        response = HTMLResponse(page, status_code=status_code, headers=PAGE_HEADERS)
        if request.query_params.get("lang") in LANGUAGES:
            response.set_cookie("lang", language, max_age=365 * 86400, samesite="lax")
        return response
