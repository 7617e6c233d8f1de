"""A local stand-in for the LAPOR! 1708 HTTP contract over real HTTP on 127.0.0.1.

It lists an agency's complaints (``GET /laporan``: ``instansi``, ``sejak``, ``halaman``),
records follow-ups (``POST /laporan/{tracking_id}/tindak-lanjut``, idempotent by ``id``),
takes reports the city forwards (``POST /laporan``, idempotent by ``id``) and serves
attachments under ``/lampiran/``. Every path, query parameter, field and the auth header
can be renamed with ``names`` (see ``ALT_NAMES``); state is always kept in the default
names. The idempotency key of a forwarded report is named like a follow-up's ``id``.
``fail()`` queues error answers, ``stall()`` delays an answer after recording it.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakeserver import FakeServer

WIB = timezone(timedelta(hours=7))
FIRST_TRACKING_ID = 1916449
KINDS = ("list", "follow_up", "create", "file")

DEFAULT_NAMES: dict[str, dict[str, str]] = {
    "paths": {"list": "/laporan", "follow_up": "/laporan/{tracking_id}/tindak-lanjut",
              "create": "/laporan", "file": "/lampiran/{name}"},
    "query": {k: k for k in ("instansi", "sejak", "halaman")},
    "page": {k: k for k in ("data", "halaman_berikut", "kursor")},
    "complaint": {k: k for k in (
        "tracking_id", "judul", "isi", "kategori", "lokasi", "lat", "lon", "alamat",
        "lampiran", "url", "tipe", "rahasia", "anonim", "pelapor", "nama", "telepon",
        "email", "diperbarui")},
    "follow_up": {k: k for k in ("id", "status", "isi", "lampiran")},
    "created": {"tracking_id": "tracking_id"},
    "auth": {"header": "Authorization", "scheme": "Bearer"},
}

# Every name differs from the default: a mapping file that misses one shows up.
ALT_NAMES: dict[str, dict[str, str]] = {
    "paths": {"list": "/api/v2/aduan", "follow_up": "/api/v2/aduan/{tracking_id}/tanggapan",
              "create": "/api/v2/aduan/baru", "file": "/api/v2/berkas/{name}"},
    "query": {"instansi": "agency", "sejak": "since", "halaman": "page"},
    "page": {"data": "items", "halaman_berikut": "next_page", "kursor": "cursor"},
    "complaint": {
        "tracking_id": "nomor", "judul": "title", "isi": "body", "kategori": "category",
        "lokasi": "tempat", "lat": "latitude", "lon": "longitude", "alamat": "address",
        "lampiran": "attachments", "url": "href", "tipe": "mime",
        "rahasia": "confidential", "anonim": "anonymous", "pelapor": "reporter",
        "nama": "name", "telepon": "phone", "email": "mail", "diperbarui": "updated_at"},
    "follow_up": {"id": "key", "status": "state", "isi": "text", "lampiran": "files"},
    "created": {"tracking_id": "ticket"},
    "auth": {"header": "X-Api-Key", "scheme": ""},
}

FIELDS = ("tracking_id", "judul", "isi", "kategori", "lokasi", "lampiran", "rahasia",
          "anonim", "pelapor", "diperbarui")
NESTED = {"lokasi": ("lat", "lon", "alamat"), "lampiran": ("url", "tipe"),
          "pelapor": ("nama", "telepon", "email")}


def merge_names(names: dict | None) -> dict[str, dict[str, str]]:
    """The default names with the given sections' entries over them (inputs not mutated)."""
    merged = copy.deepcopy(DEFAULT_NAMES)
    for section, entries in (names or {}).items():
        if section not in merged:
            raise ValueError(f"unknown names section {section!r}")
        merged[section].update(entries)
    return merged


def _wire(value: Any, field: str, mapping: dict[str, str]) -> Any:
    """A nested complaint value (lokasi, lampiran, pelapor) with its keys renamed."""
    if field not in NESTED:
        return value
    if isinstance(value, list):
        return [_wire(item, field, mapping) for item in value]
    if isinstance(value, dict):
        return {mapping.get(k, k): v for k, v in value.items()}
    return value


def _unwire(body: dict, field_names: dict[str, str], nested: dict[str, str]) -> dict:
    """An inbound body read back to the default names (unknown keys are kept as they are)."""
    back = {v: k for k, v in field_names.items()}
    nested_back = {v: k for k, v in nested.items()}
    out = {}
    for key, value in body.items():
        name = back.get(key, key)
        out[name] = _wire(value, name, nested_back)
    return out


def _template(path: str, placeholder: str) -> re.Pattern:
    return re.compile("([^/]+)".join(re.escape(p) for p in path.split("{" + placeholder + "}")))


def _json_error(status: int, message: str) -> tuple[int, dict, dict]:
    return status, {"error": message}, {}


class FakeLapor(FakeServer):
    def __init__(self, token: str = "lapor-test-token", agency: str = "dki-jakarta",
                 names: dict | None = None,
                 clock: Callable[[], datetime] | None = None):
        self.token = token
        self.agency = agency
        self.names = merge_names(names)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.page_size = 50
        self.bump_on_follow_up = True
        self.files_need_auth = True
        self.complaints: dict[str, dict[str, Any]] = {}  # default names, plus _seq/_instansi
        self.follow_ups: list[dict[str, Any]] = []
        self.created: list[dict[str, Any]] = []
        self.files: dict[str, tuple[bytes, str]] = {}
        self.calls: list[dict[str, Any]] = []
        self.seq = 0
        self._next_tracking_id = FIRST_TRACKING_ID
        self._follow_up_keys: dict[tuple[str, str], dict] = {}
        self._create_keys: dict[str, str] = {}
        self._failures: list[list] = []  # [status, times left, kind, retry_after]
        self._stalls: list[list] = []  # [seconds, times left, kind]
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        paths = self.names["paths"]
        self._follow_up_path = _template(paths["follow_up"], "tracking_id")
        self._file_path = _template(paths["file"], "name")
        super().__init__(_handler(self), "fake-lapor")

    # -- the test's side --------------------------------------------------------------

    def add(self, *, instansi: str | None = None, **fields: Any) -> dict[str, Any]:
        """One complaint disposed to ``instansi`` (default: the agency), in default names."""
        _check_fields(fields)
        with self._lock:
            tracking_id = str(fields.pop("tracking_id", None) or self._new_tracking_id())
            complaint = {
                "tracking_id": tracking_id, "judul": f"Laporan {tracking_id}",
                "isi": "Jalan berlubang di depan sekolah, membahayakan pengendara motor.",
                "kategori": "Jalan", "lokasi": None, "lampiran": [], "rahasia": False,
                "anonim": False,
                "pelapor": {"nama": "Siti Aminah", "telepon": "+6281234567890",
                            "email": "siti.aminah@example.id"},
                "_instansi": instansi or self.agency}
            complaint.update(copy.deepcopy(fields))
            self.complaints[tracking_id] = complaint
            self._bump(complaint, keep_time="diperbarui" in fields)
            return self.complaint(tracking_id)

    def change(self, tracking_id: str, **fields: Any) -> dict[str, Any]:
        """The citizen changed the complaint: new content, a new sequence and diperbarui."""
        _check_fields(fields)
        with self._lock:
            complaint = self.complaints[tracking_id]
            complaint.update(copy.deepcopy(fields))
            self._bump(complaint, keep_time="diperbarui" in fields)
            return self.complaint(tracking_id)

    def touch(self, tracking_id: str) -> dict[str, Any]:
        """A new sequence and diperbarui without a change of content."""
        with self._lock:
            self._bump(self.complaints[tracking_id])
            return self.complaint(tracking_id)

    def complaint(self, tracking_id: str) -> dict[str, Any]:
        with self._lock:
            c = self.complaints[tracking_id]
            return copy.deepcopy({k: v for k, v in c.items() if not k.startswith("_")})

    def seq_of(self, tracking_id: str) -> int:
        return self.complaints[tracking_id]["_seq"]

    def follow_ups_for(self, tracking_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [f for f in self.follow_ups if f["tracking_id"] == tracking_id]

    def add_file(self, name: str, data: bytes, media_type: str = "image/jpeg") -> str:
        self.files[name] = (data, media_type)
        return self.base_url + self.names["paths"]["file"].replace("{name}", name)

    def calls_of(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            return [c for c in self.calls if c["kind"] == kind]

    def fail(self, status: int, times: int = 1, kind: str | None = None,
             retry_after: int | None = None) -> None:
        """Answer the next ``times`` requests of ``kind`` (None: any) with ``status``."""
        _check_kind(kind)
        with self._lock:
            self._failures.append([status, times, kind, retry_after])

    def stall(self, seconds: float, times: int = 1, kind: str | None = "follow_up") -> None:
        """Process and record the next requests of ``kind``, then answer ``seconds`` late."""
        _check_kind(kind)
        with self._lock:
            self._stalls.append([seconds, times, kind])

    def stop(self) -> None:
        self._stopping.set()
        super().stop()

    # -- internals --------------------------------------------------------------------

    def _new_tracking_id(self) -> str:
        tracking_id = self._next_tracking_id
        self._next_tracking_id += 1
        return str(tracking_id)

    def _now(self) -> str:
        return self.clock().astimezone(WIB).isoformat(timespec="seconds")

    def _bump(self, complaint: dict, keep_time: bool = False) -> None:
        self.seq += 1
        complaint["_seq"] = self.seq
        if not keep_time:
            complaint["diperbarui"] = self._now()

    def _take(self, queue: list[list], kind: str | None) -> list | None:
        with self._lock:
            for entry in queue:
                if entry[2] is None or entry[2] == kind:
                    entry[1] -= 1
                    if entry[1] <= 0:
                        queue.remove(entry)
                    return entry
        return None

    def _authorized(self, headers: dict[str, str]) -> bool:
        auth = self.names["auth"]
        expected = f"{auth['scheme']} {self.token}" if auth["scheme"] else self.token
        return headers.get(auth["header"].lower(), "").strip() == expected

    def kind_of(self, method: str, path: str) -> tuple[str | None, str | None]:
        """The route of a request, and the tracking id or file name in its path."""
        paths = self.names["paths"]
        if method == "GET" and path == paths["list"]:
            return "list", None
        if method == "POST" and path == paths["create"]:
            return "create", None
        if method == "POST" and (m := self._follow_up_path.fullmatch(path)):
            return "follow_up", unquote(m.group(1))
        if method == "GET" and (m := self._file_path.fullmatch(path)):
            return "file", unquote(m.group(1))
        return None, None

    def answer(self, method: str, path: str, query: dict[str, str], headers: dict[str, str],
               body: Any) -> tuple[int, Any, dict[str, str]]:
        kind, arg = self.kind_of(method, path)
        with self._lock:
            self.calls.append({"method": method, "path": path, "query": query,
                               "headers": headers, "json": body, "kind": kind})
        failure = self._take(self._failures, kind)
        if failure is not None:
            status, _, _, retry_after = failure
            extra = {"Retry-After": str(retry_after)} if retry_after is not None else {}
            return status, {"error": f"injected {status}"}, extra
        if not (kind == "file" and not self.files_need_auth) and not self._authorized(headers):
            return _json_error(401, "invalid token")
        if kind is None:
            return _json_error(404, f"no route {method} {path}")
        if kind == "file":
            if arg not in self.files:
                return _json_error(404, "unknown file")
            data, media_type = self.files[arg]
            return 200, data, {"Content-Type": media_type}
        if kind == "list":
            return self._list(query)
        if not isinstance(body, dict):
            return _json_error(400, "bad json")
        with self._lock:
            if kind == "follow_up":
                return self._follow_up(arg, body)
            return self._create(body)

    def _list(self, query: dict[str, str]) -> tuple[int, dict, dict]:
        q = self.names["query"]
        agency = query.get(q["instansi"])
        if not agency:
            return _json_error(400, "missing instansi")
        sejak = query.get(q["sejak"], "")
        try:
            keep = _since(sejak)
        except ValueError:
            return _json_error(400, "bad sejak")
        try:
            page = int(query.get(q["halaman"]) or 1)
        except ValueError:
            page = 0
        if page < 1:
            return _json_error(400, "bad halaman")
        with self._lock:
            matched = sorted((c for c in self.complaints.values()
                              if c["_instansi"] == agency and keep(c)),
                             key=lambda c: c["_seq"])
            cursor = f"c{matched[-1]['_seq']}" if matched else (sejak or "c0")
            start = (page - 1) * self.page_size
            items = [self._render(c) for c in matched[start:start + self.page_size]]
        more = start + self.page_size < len(matched)
        p = self.names["page"]
        return 200, {p["data"]: items, p["halaman_berikut"]: page + 1 if more else None,
                     p["kursor"]: cursor}, {}

    def _render(self, complaint: dict) -> dict:
        names = self.names["complaint"]
        return {names[f]: _wire(copy.deepcopy(complaint.get(f)), f, names) for f in FIELDS}

    def _follow_up(self, tracking_id: str, body: dict) -> tuple[int, dict, dict]:
        if tracking_id not in self.complaints:
            return _json_error(404, "unknown tracking id")
        data = _unwire(body, self.names["follow_up"], self.names["complaint"])
        for field in ("id", "status", "isi"):
            if not isinstance(data.get(field), str):
                return _json_error(422, f"{self.names['follow_up'][field]} is required")
        lampiran = data.get("lampiran", [])
        if not isinstance(lampiran, list):
            return _json_error(422, f"{self.names['follow_up']['lampiran']} must be a list")
        answer = {self.names["follow_up"]["id"]: data["id"],
                  self.names["complaint"]["tracking_id"]: tracking_id}
        if (tracking_id, data["id"]) in self._follow_up_keys:
            return 200, answer, {}
        record = {"tracking_id": tracking_id, "id": data["id"], "status": data["status"],
                  "isi": data["isi"], "lampiran": lampiran, "at": self._now()}
        self.follow_ups.append(record)
        self._follow_up_keys[(tracking_id, data["id"])] = record
        if self.bump_on_follow_up:
            self._bump(self.complaints[tracking_id])
        return 201, answer, {}

    def _create(self, body: dict) -> tuple[int, dict, dict]:
        key_name = self.names["follow_up"]["id"]
        names = {**self.names["complaint"], "id": key_name}
        data = _unwire(body, names, self.names["complaint"])
        for field in ("id", "judul", "isi"):
            if not isinstance(data.get(field), str) or not data[field]:
                return _json_error(422, f"{names[field]} is required")
        answer_name = self.names["created"]["tracking_id"]
        if data["id"] in self._create_keys:
            return 200, {answer_name: self._create_keys[data["id"]]}, {}
        tracking_id = self._new_tracking_id()
        self._create_keys[data["id"]] = tracking_id
        self.created.append({"tracking_id": tracking_id, **data})
        return 201, {answer_name: tracking_id}, {}

    def stall_for(self, kind: str | None) -> None:
        """Wait out a queued stall for this kind; stop() cuts it short."""
        stall = self._take(self._stalls, kind)
        if stall is not None:
            self._stopping.wait(stall[0])


def _since(sejak: str) -> Callable[[dict], bool]:
    """Which complaints a ``sejak`` keeps: all, those after a cursor, or since a time."""
    if not sejak:
        return lambda c: True
    if re.fullmatch(r"c\d+", sejak):
        after = int(sejak[1:])
        return lambda c: c["_seq"] > after
    when = _parse_time(sejak)
    return lambda c: _parse_time(c["diperbarui"]) >= when


def _parse_time(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        # an unescaped "+" in a query string arrives as a space
        when = datetime.fromisoformat(text.replace(" ", "+"))
    if when.tzinfo is None:
        raise ValueError("a time without an offset")
    return when


def _check_fields(fields: dict) -> None:
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise TypeError(f"not complaint fields: {sorted(unknown)}")


def _check_kind(kind: str | None) -> None:
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS} or None")


def _handler(api: FakeLapor) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):
            pass

        def _route(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, data, extra = api.answer(self.command, url.path, query, headers, body)
            api.stall_for(api.kind_of(self.command, url.path)[0])
            ctype = extra.pop("Content-Type", "application/json")
            payload = data if isinstance(data, bytes) \
                else json.dumps(data, ensure_ascii=False).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(payload)))
                for k, v in extra.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the client gave up (a stall longer than its timeout)

        do_GET = do_POST = _route

    return Handler
