"""Built-in plugin: the texts kanal sends to citizens (Bahasa Indonesia first).

Every text fits one 160-character GSM-7 SMS segment when the public URL is short (up to
about 45 characters), so SMS citizens get one message, not a split one."""

from __future__ import annotations

from core import tracking
from core.hookspecs import hookimpl

TEXTS = {
    "id": {
        "ack": "Laporan Anda diterima, nomor {tid}. Cek status: balas STATUS {tid} "
               "atau buka {url}",
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
    },
    "en": {
        "ack": "Report received, number {tid}. Check: reply STATUS {tid} or open {url}",
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
    },
}


def megabytes(size: int) -> str:
    """1.5 MB, 10 MB: how a size is told to citizens."""
    return f"{size / 1_048_576:.1f}".rstrip("0").rstrip(".") + " MB"


class OutboundTexts:
    def __init__(self, public_base_url: str = ""):
        self.base = public_base_url.rstrip("/")

    @hookimpl(trylast=True)
    def kanal_format_outbound(self, kind, report, language, details):
        texts = TEXTS.get(language) or TEXTS["id"]
        template = texts.get(kind)
        if template is None:
            return None
        values = {"tid": "", "status": "", "url": f"{self.base}/lacak", "size": "",
                  "limit": ""}
        for name in ("size", "limit"):
            if isinstance((details or {}).get(name), int):
                values[name] = megabytes(details[name])
        if report is not None:
            tid = tracking.display(report.tracking_id)
            values.update(tid=tid, status=report.status, url=f"{self.base}/lacak/{tid}")
        return template.format(**values)
