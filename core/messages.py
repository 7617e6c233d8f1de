"""Built-in plugin: the texts kanal sends to citizens (Bahasa Indonesia first).

Every text fits one 160-character GSM-7 SMS segment when the public URL is short (up to
about 45 characters), so SMS citizens get one message, not a split one; a status change
or an officer's note is longer only by what the officer wrote (a reason, the note)."""

from __future__ import annotations

from core import tracking
from core.hookspecs import hookimpl

TEXTS = {
    "id": {
        "ack": "Laporan Anda diterima, nomor {tid}. Cek status: balas STATUS {tid} "
               "atau buka {url}",
        # where the citizen cannot write back to kanal (a follow-up on LAPOR!)
        "ack:no_reply": "Laporan Anda diterima Pemprov DKI Jakarta dengan nomor {tid}. "
                        "Perkembangannya: {url}",
        "follow_up_ack": "Tambahan untuk laporan {tid} diterima. Status: {status}.",
        "status_reply": "Laporan {tid}: {status}. Rincian: {url}",
        "status_unknown": "Nomor laporan itu tidak ditemukan. Periksa kembali nomor "
                          "laporan Anda.",
        "status_mistyped": "Nomor laporan tidak valid, periksa kembali nomor laporan.",
        "status_help": "Kirim STATUS diikuti nomor laporan, contoh: STATUS JK7Q-M4XA-9",
        "opt_out_ack": "Anda tidak akan menerima pemberitahuan lagi. Balas MULAI untuk "
                       "mengaktifkan kembali.",
        "opt_in_ack": "Pemberitahuan diaktifkan kembali. Balas STOP untuk berhenti.",
        "greeting": "Selamat datang di layanan pengaduan Pemprov DKI Jakarta. Tulis "
                    "keluhan Anda dan kirim lokasi atau foto bila ada. Cek laporan: "
                    "/status <nomor>",
        "too_large": "Email Anda ({size}) melebihi batas {limit} dan tidak kami terima. "
                     "Kirim ulang dengan lampiran lebih kecil.",
        "unsupported_message": "Maaf, pesan jenis ini belum dapat kami terima. Tulis keluhan "
                               "Anda sebagai teks, boleh dengan foto dan lokasi.",
        # a case's status changed (core.notify): by the new status, else the public note
        "status_changed": "Laporan {tid}: {note}. Status: {status}. Rincian: {url}",
        "status_changed:bare": "Laporan {tid} kini berstatus {status}. Rincian: {url}",
        # once rated (a reopened case verified again): the rating request says it otherwise
        "status_changed:Selesai": "Laporan {tid} selesai ditangani. Rincian: {url}",
        "status_changed:Ditolak": "Laporan {tid} tidak dapat ditindaklanjuti. {note}. "
                                  "Rincian: {url}",
        "case_note": "Pesan petugas untuk laporan {tid}: {text}",
        # for Selesai, in place of its status notice (core.rating)
        "rating_request": "Laporan {tid} selesai. Balas nilai 1-5, mis. 4; bila belum beres, "
                          "1 atau 2 dan alasannya. Rincian: {url}",
        "rating_request:link": "Laporan {tid} selesai ditangani. Beri nilai 1-5 di\n{link}\n"
                               "Rincian: {url}",
        "rating_thanks": "Terima kasih, nilai {score} untuk laporan {tid} kami catat.",
        "rating_thanks:reopened": "Terima kasih. Laporan {tid} dibuka kembali untuk "
                                  "diperiksa supervisor.",
        "rating_refused": "Nilai tidak dapat dicatat.",
        "rating_refused:already_rated": "Laporan {tid} sudah diberi nilai. Nilai hanya dapat "
                                        "diberikan sekali.",
        "rating_refused:not_finished": "Laporan {tid} belum selesai ({status}). Nilai dapat "
                                       "diberikan setelah laporan selesai.",
        "rating_refused:not_reporter": "Hanya pelapor yang dapat memberi nilai laporan ini.",
    },
    "en": {
        "ack": "Report received, number {tid}. Check: reply STATUS {tid} or open {url}",
        "ack:no_reply": "Your report was received by the Jakarta provincial government "
                        "with number {tid}. Progress: {url}",
        "follow_up_ack": "Your addition to report {tid} was received. Status: {status}.",
        "status_reply": "Report {tid}: {status}. Details: {url}",
        "status_unknown": "No report has that number. Please check the number.",
        "status_mistyped": "That report number is not valid, please check it.",
        "status_help": "Send STATUS and the report number, e.g. STATUS JK7Q-M4XA-9",
        "opt_out_ack": "You will get no more notifications. Reply MULAI to turn them on.",
        "opt_in_ack": "Notifications are on again. Reply STOP to stop them.",
        "greeting": "Welcome to the Jakarta complaint service. Write your complaint and "
                    "send a location or photo if you can. Check a report: /status <number>",
        "too_large": "Your email ({size}) is over the {limit} limit and was not taken. "
                     "Please send it again with smaller attachments.",
        "unsupported_message": "Sorry, we cannot take this kind of message yet. Please write "
                               "your complaint as text, with a photo and location if you can.",
        # by the action where the public note is in Indonesian, else the note itself
        "status_changed": "Report {tid}: {note}. Status: {status}. Details: {url}",
        "status_changed:bare": "Report {tid} is now {status}. Details: {url}",
        "status_changed:coordinate": "Report {tid} was handed to {unit}. Status: {status}. "
                                     "Details: {url}",
        "status_changed:dispose": "Report {tid} was sent to {unit}. Status: {status}. "
                                  "Details: {url}",
        "status_changed:start": "Report {tid} is being handled by {unit}. Details: {url}",
        "status_changed:ews": "Report {tid} takes longer: expected done by {due}. "
                              "Details: {url}",
        "status_changed:resolve": "Report {tid}: the work is done and awaits verification. "
                                  "Details: {url}",
        "status_changed:return": "Report {tid}: the work was not accepted yet and goes on. "
                                 "Details: {url}",
        "status_changed:Selesai": "Report {tid} is resolved. Details: {url}",
        "status_changed:Ditolak": "Report {tid} cannot be taken up. {note}. Details: {url}",
        "case_note": "A message from the officer on report {tid}: {text}",
        "rating_request": "Report {tid} is resolved. Reply with a rating 1-5, e.g. 4; if not "
                          "fixed, 1 or 2 and why. Details: {url}",
        "rating_request:link": "Report {tid} is resolved. Rate it 1-5 at\n{link}\n"
                               "Details: {url}",
        "rating_thanks": "Thank you, your rating of {score} for report {tid} is recorded.",
        "rating_thanks:reopened": "Thank you. Report {tid} is reopened for a supervisor to "
                                  "check.",
        "rating_refused": "The rating could not be recorded.",
        "rating_refused:already_rated": "Report {tid} was rated already. A report can be "
                                        "rated once.",
        "rating_refused:not_finished": "Report {tid} is not resolved yet ({status}). It can be "
                                       "rated once it is.",
        "rating_refused:not_reporter": "Only the person who made this report can rate it.",
    },
}


def _variant(kind: str, details: dict) -> str:
    """The text of a kind for what its details say: a rating asked for with a link, a
    thanks for a rating that reopened the case, the reason a rating was refused."""
    if kind == "rating_request" and details.get("link"):
        return "rating_request:link"
    if kind == "rating_thanks" and details.get("reopened"):
        return "rating_thanks:reopened"
    if kind == "ack" and details.get("replies") is False:
        return "ack:no_reply"
    if kind == "rating_refused" and details.get("reason"):
        return f"rating_refused:{details['reason']}"
    return kind


def megabytes(size: int) -> str:
    """1.5 MB, 10 MB: how a size is told to citizens."""
    return f"{size / 1_048_576:.1f}".rstrip("0").rstrip(".") + " MB"


class OutboundTexts:
    def __init__(self, public_base_url: str = ""):
        self.base = public_base_url.rstrip("/")

    @hookimpl(trylast=True)
    def kanal_format_outbound(self, kind, report, language, details):
        texts = TEXTS.get(language) or TEXTS["id"]
        details = details or {}
        template = texts.get(_variant(kind, details)) or texts.get(kind)
        if kind == "status_changed":
            template = _status_template(texts, details)
        if template is None:
            return None
        values = {"tid": "", "status": "", "url": f"{self.base}/lacak", "size": "",
                  "limit": "", "score": details.get("score", ""),
                  "link": details.get("link") or ""}
        for name in ("size", "limit"):
            if isinstance(details.get(name), int):
                values[name] = megabytes(details[name])
        for name in ("note", "text", "unit", "due"):
            values[name] = str(details.get(name) or "").strip()
        values["note"] = values["note"].rstrip(".")  # the templates end its sentence
        if report is not None:
            tid = tracking.display(report.tracking_id)
            values.update(tid=tid, status=report.status, url=f"{self.base}/lacak/{tid}")
        return template.format(**values)


def _status_template(texts: dict[str, str], details: dict) -> str:
    """The text of a status change: the new status's own (Ditolak gives the reason; the
    rating request stands in for Selesai's until the case is rated, core.rating), else the action's when it has what it names (the unit,
    the EWS date), else the public note, else the bare status."""
    status, action = details.get("status"), details.get("action")
    if f"status_changed:{status}" in texts:
        return texts[f"status_changed:{status}"]
    named = texts.get(f"status_changed:{action}")
    if named is not None and all(details.get(f) for f in _NEEDS.get(action, ())):
        return named
    return texts["status_changed" if details.get("note") else "status_changed:bare"]


# what an action's text names, without which the note is told instead
_NEEDS = {"coordinate": ("unit",), "dispose": ("unit",), "start": ("unit",), "ews": ("due",)}
