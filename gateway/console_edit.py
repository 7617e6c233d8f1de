"""The operations console's changes (admin only): add a channel of an installed adapter,
edit its settings (secrets typed in are encrypted, never shown again), test it against
its provider, enable and disable it. Every change goes through
``core.channelconf.Configurator`` (validated, audited, refused whole when stale) and the
running channels are reloaded at once; other processes follow within seconds.

A form carries the channel's version: when someone else changed the channel meanwhile,
the change is refused with that reason and nothing is written. Typed-in secrets are
tested live before they are saved; when the provider refuses them they are saved only
if the operator ticks "save anyway"."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from core import audit
from core.channelconf import ChangeRefused
from core.db import writing
from core.health import wib_text
from core.staff import Staff
from gateway import auth
from gateway.staff_pages import page

router = APIRouter(include_in_schema=False)


def _field_rows(kanal, cfg) -> list[dict[str, Any]]:
    """The adapter's settings as the form shows them: plain values, and for secrets only
    whether they are set (masked)."""
    cls = kanal.registry.get(cfg.adapter)
    secret_keys = set(getattr(cls, "secrets", ()))
    out = []
    for name, info in cls.Settings.model_fields.items():
        value = cfg.settings.get(name)
        raw = cfg.raw_settings.get(name)
        out.append({
            "name": name, "secret": name in secret_keys,
            "value": "" if value is None or name in secret_keys else str(value),
            "masked": audit.mask(str(value)) if name in secret_keys and value else None,
            "required": info.is_required(),
            "default": None if info.is_required() or info.default is None else str(info.default),
            "overridden": name in cfg.overridden,
            "file": raw if isinstance(raw, str) and raw.startswith("${") else None,
        })
    return out


def _load(kanal, channel_id: str):
    with kanal.engine.connect() as conn:
        cfg, _ = kanal.configurator.current(conn, channel_id, lock=False)
        events = audit.events(conn, channel=channel_id, limit=50)
    for event in events:
        event["at"] = wib_text(event["at"])
    return cfg, events


async def _edit_page(request: Request, channel_id: str, *, status_code: int = 200,
                     **context: Any) -> Response:
    kanal = request.app.state.kanal
    try:
        cfg, events = await run_in_threadpool(_load, kanal, channel_id)
    except ChangeRefused:
        return page(request, "staff_channel_edit.html", {"missing": channel_id},
                    status_code=404)
    status = kanal.channel(channel_id)
    return page(request, "staff_channel_edit.html", {
        "missing": None, "cfg": cfg, "status": status, "events": events,
        "fields": _field_rows(kanal, cfg), "errors": {}, "refused": None, "test": None,
        "typed": {}, "saved": request.query_params.get("saved"), "confirm_needed": False,
        **context},
        status_code=status_code)


@router.get("/staff/channels/new")
async def new_form(request: Request, account: Staff = auth.require("admin")) -> Response:
    return _new_page(request, {}, None)


def _new_page(request: Request, typed: dict, refused: ChangeRefused | None,
              status_code: int = 200) -> Response:
    kanal = request.app.state.kanal
    return page(request, "staff_channel_new.html", {
        "adapters": kanal.registry.names(),
        "officials": kanal.channels_file.official_channels,
        "typed": typed, "refused": refused}, status_code=status_code)


@router.post("/staff/channels/new")
async def add(request: Request, account: Staff = auth.require("admin")) -> Response:
    form = await request.form()
    typed = {k: str(form.get(k) or "").strip() for k in ("id", "adapter", "official", "name")}
    if not auth.csrf_ok(request, form.get("csrf")):
        return _new_page(request, typed, ChangeRefused("csrf", "stale form"), 403)
    kanal = request.app.state.kanal

    def run() -> None:
        with writing(kanal.engine) as conn:
            kanal.configurator.add(conn, typed["id"], typed["adapter"], typed["official"],
                                   account.username, name=typed["name"] or None)
        kanal.reload_channels()

    try:
        await run_in_threadpool(run)
    except ChangeRefused as refused:
        return _new_page(request, typed, refused, 409 if refused.code == "exists" else 422)
    return RedirectResponse(f"/staff/channels/{typed['id']}/edit?saved=added",
                            status_code=303)


@router.get("/staff/channels/{channel_id}/edit")
async def edit_form(request: Request, channel_id: str,
                    account: Staff = auth.require("admin")) -> Response:
    return await _edit_page(request, channel_id)


def _version(form) -> int | None:
    try:
        return int(str(form.get("version")))
    except ValueError:
        return None


@router.post("/staff/channels/{channel_id}/settings")
async def save_settings(request: Request, channel_id: str,
                        account: Staff = auth.require("admin")) -> Response:
    form = await request.form()
    kanal = request.app.state.kanal
    if not auth.csrf_ok(request, form.get("csrf")):
        return await _edit_page(request, channel_id, status_code=403,
                                refused=ChangeRefused("csrf", "stale form"))
    try:
        cfg, _ = await run_in_threadpool(_load, kanal, channel_id)
    except ChangeRefused:
        return await _edit_page(request, channel_id)
    fields = {f["name"]: f for f in _field_rows(kanal, cfg)}
    values, secrets, unset = {}, {}, []
    for name, f in fields.items():
        if form.get(f"unset.{name}"):
            unset.append(name)
        elif f["secret"]:
            typed = str(form.get(f"secret.{name}") or "")
            if typed.strip():
                secrets[name] = typed.strip()
        elif f"s.{name}" in form:
            typed = str(form.get(f"s.{name}") or "").strip()
            if typed != f["value"]:
                values[name] = typed
    if "name" in form and str(form.get("name") or "").strip() != (cfg.name or ""):
        values["name"] = str(form.get("name") or "").strip()
    typed_back = dict(values)
    if secrets and not form.get("confirm"):
        # typed-in credentials are tried before they are kept
        test = await run_in_threadpool(kanal.test_channel, channel_id,
                                       {**{k: v for k, v in values.items() if k != "name"},
                                        **secrets})
        if not test.ok:
            return await _edit_page(request, channel_id, status_code=409, test=test,
                                    typed=typed_back, confirm_needed=True)

    def run() -> list[str]:
        with writing(kanal.engine) as conn:
            changed = kanal.configurator.update(conn, channel_id, account.username,
                                                values=values, secrets=secrets,
                                                unset=tuple(unset),
                                                expected_version=_version(form))
        kanal.reload_channels()
        return changed

    try:
        await run_in_threadpool(run)
    except ChangeRefused as refused:
        errors = {e.field: e for e in refused.errors}
        return await _edit_page(request, channel_id,
                                status_code=409 if refused.code == "stale" else 422,
                                refused=refused, errors=errors, typed=typed_back)
    return RedirectResponse(f"/staff/channels/{channel_id}/edit?saved=settings",
                            status_code=303)


@router.post("/staff/channels/{channel_id}/{action}")
async def switch(request: Request, channel_id: str, action: str,
                 account: Staff = auth.require("admin")) -> Response:
    """``enable``, ``disable`` or ``test``."""
    form = await request.form()
    kanal = request.app.state.kanal
    if action not in ("enable", "disable", "test"):
        return await _edit_page(request, channel_id, status_code=404)
    if not auth.csrf_ok(request, form.get("csrf")):
        return await _edit_page(request, channel_id, status_code=403,
                                refused=ChangeRefused("csrf", "stale form"))
    if action == "test":
        try:
            test = await run_in_threadpool(kanal.test_channel, channel_id)
        except ChangeRefused:
            return await _edit_page(request, channel_id)
        return await _edit_page(request, channel_id, test=test)

    def run() -> None:
        with writing(kanal.engine) as conn:
            kanal.configurator.set_enabled(conn, channel_id, action == "enable",
                                           account.username,
                                           expected_version=_version(form))
        kanal.reload_channels()

    try:
        await run_in_threadpool(run)
    except ChangeRefused as refused:
        return await _edit_page(request, channel_id,
                                status_code=409 if refused.code == "stale" else 422,
                                refused=refused)
    return RedirectResponse(f"/staff/channels/{channel_id}/edit?saved={action}",
                            status_code=303)


