"""Complaints in: the agency's list, one page per poll, into inbox rows; and an inbox row
into a canonical message.

A complaint's first version is kept under its LAPOR! tracking ID. A later version in
which the citizen's own content changed (title, text, attachments) is kept under
``<tracking ID>~<digest of that content>`` and becomes a follow-up of the same report;
one whose content did not change (LAPOR! also moves a complaint when kanal answers it) is
the same row again, which the inbox takes once. An anonymous complaint's reporter is
removed before the payload is written.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select

from adapters.lapor import mapping as m
from core.adapter import Envelope, InboxRecord, NormalizeError
from core.canonical import InboundMessage, Location, MediaRef, Sender
from core.identity import contact_senders
from core.models import InboxItem
from core.workcal import WIB

if TYPE_CHECKING:
    from adapters.lapor.plugin import LaporAdapter

CONTENT_TYPE = "application/vnd.lapor.complaint+json"
TRACKING_ID = re.compile(r"^[0-9A-Za-z-]{1,64}$")
REVISION = "~"
inbox_t = InboxItem.__table__


# -- the cursor -------------------------------------------------------------------------

def read_cursor(cursor: str | None) -> tuple[str | None, int]:
    """(the ``since`` value, the page to read) from the stored cursor."""
    if not cursor:
        return None, 1
    try:
        data = json.loads(cursor)
        page = int(data.get("page") or 1)
        return data.get("since"), max(page, 1)
    except (ValueError, AttributeError, TypeError):
        return None, 1


def write_cursor(since: str | None, page: int = 1) -> str:
    data: dict[str, Any] = {"since": since}
    if page > 1:
        data["page"] = page
    return json.dumps(data, separators=(",", ":"))


def first_since(now: datetime, hours: float) -> str:
    return (now - timedelta(hours=hours)).astimezone(WIB).isoformat(timespec="seconds")


# -- one page ---------------------------------------------------------------------------

def fetch_page(adapter: LaporAdapter, since: str | None, page: int
               ) -> tuple[list[dict], Any, Any]:
    """(the complaints, the next page or None, the API's cursor) of one list page."""
    mp = adapter.mapping
    params = {mp.query.agency: adapter.settings.agency_id, mp.query.page: page}
    if since is not None:
        params[mp.query.since] = since
    _, body = adapter.client.call("GET", adapter.client.url(mp.paths.list), now=adapter.now(),
                                  params=params)
    items = m.get(body, mp.page.items)
    if not isinstance(items, list):
        raise ValueError(f"LAPOR! list page has no list at {mp.page.items!r} (check the "
                         "mapping's page.items)")
    return items, m.get(body, mp.page.next_page), m.get(body, mp.page.cursor)


def content(mp: m.Mapping, raw: dict) -> dict[str, Any]:
    """What the citizen wrote and sent: a change here is a follow-up."""
    files = m.get(raw, mp.complaint.attachments) or []
    urls = [str(m.get(f, mp.complaint.attachment_url) or "") for f in files
            if isinstance(f, dict)] if isinstance(files, list) else []
    return {"title": _text(m.get(raw, mp.complaint.title)),
            "text": _text(m.get(raw, mp.complaint.text)), "attachments": sorted(urls)}


def lapor_id(mp: m.Mapping, raw: dict) -> str:
    """The complaint's tracking ID as text ("" when absent, null or not a string or
    number): a number is taken as LAPOR! writes it, ``1916449``."""
    value = m.get(raw, mp.complaint.tracking_id)
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return ""
    return str(value).strip()


def digest(value: dict[str, Any]) -> str:
    data = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(data.encode()).hexdigest()[:16]


def envelopes(adapter: LaporAdapter, items: list[Any]) -> list[Envelope]:
    """One envelope per complaint, keyed as the module says."""
    mp = adapter.mapping
    out: list[Envelope] = []
    seen: dict[str, list[tuple[str, dict]]] = {}  # tracking id -> (key, content), in order
    prepared = []
    for raw in items:
        tid = lapor_id(mp, raw) if isinstance(raw, dict) else ""
        if not TRACKING_ID.match(tid):
            # kept for an operator to look at; normalize quarantines it with the reason
            blob = json.dumps(raw, ensure_ascii=False, sort_keys=True, default=str)
            key = "invalid" + REVISION + hashlib.sha256(blob.encode()).hexdigest()[:16]
            out.append(Envelope(adapter.channel_id, key, json.dumps(
                {"complaint": raw}, ensure_ascii=False, default=str).encode(),
                content_type=CONTENT_TYPE))
            continue
        raw = json.loads(json.dumps(raw))  # a copy this function may change
        if m.get(raw, mp.complaint.anonymous):
            for field in (mp.complaint.reporter, mp.complaint.reporter_name,
                          mp.complaint.reporter_phone, mp.complaint.reporter_email):
                m.drop(raw, field)
        prepared.append((tid, raw))
    known = _known(adapter, sorted({tid for tid, _ in prepared}))
    for tid, raw in prepared:
        now_content = content(mp, raw)
        versions = seen.setdefault(tid, known.get(tid, []))
        same = next((key for key, c in versions if c == now_content), None)
        if same is not None:
            key, previous = same, None
        elif not versions:
            key, previous = tid, None
        else:
            key, previous = tid + REVISION + digest(now_content), versions[-1][1]
        if same is None:
            versions.append((key, now_content))
        payload = {"complaint": raw, "previous": previous}
        out.append(Envelope(adapter.channel_id, key, json.dumps(
            payload, ensure_ascii=False, separators=(",", ":")).encode(),
            content_type=CONTENT_TYPE,
            received_at=parse_time(m.get(raw, mp.complaint.updated_at))))
    return out


def _known(adapter: LaporAdapter, tids: list[str]) -> dict[str, list[tuple[str, dict]]]:
    """The versions of these complaints already in the inbox, oldest first."""
    found: dict[str, list[tuple[str, dict]]] = {}
    if not tids:
        return found
    mp = adapter.mapping
    with adapter.runtime.engine.connect() as conn:
        for start in range(0, len(tids), 200):
            chunk = tids[start:start + 200]
            rows = conn.execute(
                select(inbox_t.c.external_id, inbox_t.c.payload)
                .where(inbox_t.c.channel == adapter.channel_id,
                       or_(inbox_t.c.external_id.in_(chunk),
                           *(inbox_t.c.external_id.like(t + REVISION + "%") for t in chunk)))
                .order_by(inbox_t.c.id))
            for key, payload in rows:
                try:
                    raw = json.loads(payload)["complaint"]
                except (ValueError, KeyError, TypeError):
                    continue
                found.setdefault(key.split(REVISION)[0], []).append((key, content(mp, raw)))
    return found


def parse_time(value: Any) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None
    except ValueError:
        return None
    return parsed if parsed is None or parsed.tzinfo is not None else parsed.replace(tzinfo=WIB)


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


# -- normalize --------------------------------------------------------------------------

def to_message(adapter: LaporAdapter, item: InboxRecord) -> InboundMessage:
    mp = adapter.mapping
    try:
        payload = json.loads(item.payload)
        raw = payload["complaint"]
        previous = payload.get("previous")
    except (ValueError, KeyError, TypeError) as exc:
        raise NormalizeError(f"not a kanal LAPOR! payload: {type(exc).__name__}: {exc}"
                             ) from exc
    if not isinstance(raw, dict):
        raise NormalizeError("not a LAPOR! complaint: expected a JSON object")
    tid = lapor_id(mp, raw)
    if not TRACKING_ID.match(tid):
        raise NormalizeError(f"LAPOR! complaint without a usable tracking ID at "
                             f"{mp.complaint.tracking_id!r} (check the mapping)")
    now_content = content(mp, raw)
    files = _attachments(mp, raw)
    text, media = now_content["text"], files
    revision = item.external_id != tid
    if revision and isinstance(previous, dict):
        old_text = str(previous.get("text") or "")
        if old_text and text.startswith(old_text) and text != old_text:
            text = text[len(old_text):].strip()  # what the citizen added
        old_files = set(previous.get("attachments") or [])
        media = [f for f in files if f.url not in old_files]
    if not (text or media or now_content["title"]):
        raise NormalizeError("a LAPOR! complaint without title, text or attachment")
    anonymous = bool(m.get(raw, mp.complaint.anonymous))
    name = None if anonymous else _text(m.get(raw, mp.complaint.reporter_name)) or None
    aka = [] if anonymous else contact_senders(
        _text(m.get(raw, mp.complaint.reporter_phone)) or None,
        _text(m.get(raw, mp.complaint.reporter_email)) or None, name=name, prefix="lapor:")
    category = source = None
    if not revision:
        category, source = adapter.category_index.resolve(
            _text(m.get(raw, mp.complaint.category)) or None)
    return InboundMessage(
        channel=adapter.channel_id, official_channel=adapter.official.id,
        external_id=item.external_id,
        subject=now_content["title"] or None,
        text=text or now_content["title"],
        # the complaint itself is the way back to the citizen: follow-ups go to it
        sender=Sender("lapor", tid, name),
        also_known_as=aka,
        received_at=parse_time(m.get(raw, mp.complaint.updated_at)) or item.received_at,
        category=category, source_category=source,
        location=None if revision else _location(mp, raw),
        media=media,
        thread_refs=[tid] if revision else [],
        confidential=bool(m.get(raw, mp.complaint.confidential)),
        external_ref=None if revision else tid,
        extra={"lapor_id": tid, "anonymous": anonymous},
    )


def _location(mp: m.Mapping, raw: dict) -> Location | None:
    lat, lon = m.get(raw, mp.complaint.lat), m.get(raw, mp.complaint.lon)
    address = _text(m.get(raw, mp.complaint.address)) or None
    try:
        lat, lon = (float(lat), float(lon)) if lat is not None and lon is not None else (None,
                                                                                         None)
    except (TypeError, ValueError):
        lat = lon = None
    if lat is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180):
        lat = lon = None
    if lat is None and not address:
        return None
    return Location(lat=lat, lon=lon, address=address)


def _attachments(mp: m.Mapping, raw: dict) -> list[MediaRef]:
    files = m.get(raw, mp.complaint.attachments) or []
    out = []
    for f in files if isinstance(files, list) else []:
        url = m.get(f, mp.complaint.attachment_url) if isinstance(f, dict) else None
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            kind = m.get(f, mp.complaint.attachment_type)
            out.append(MediaRef(url=url, media_type=kind if isinstance(kind, str) else None))
    return out
