"""Built-in plugin: the texts kanal sends to citizens (Bahasa Indonesia first)."""

from __future__ import annotations

from core import tracking
from core.hookspecs import hookimpl

TEXTS = {
    "id": {
        "ack": "Terima kasih, laporan Anda sudah kami terima dengan nomor {tid}. "
               "Pantau perkembangannya di {url} atau balas dengan nomor tersebut.",
        "follow_up_ack": "Tambahan keterangan untuk laporan {tid} sudah kami terima. "
                         "Status saat ini: {status}.",
    },
    "en": {
        "ack": "Thank you, we have received your report as number {tid}. "
               "Follow it at {url} or reply quoting that number.",
        "follow_up_ack": "We have added your message to report {tid}. "
                         "Current status: {status}.",
    },
}


class OutboundTexts:
    def __init__(self, public_base_url: str = ""):
        self.base = public_base_url.rstrip("/")

    @hookimpl(trylast=True)
    def kanal_format_outbound(self, kind, report, language):
        texts = TEXTS.get(language) or TEXTS["id"]
        template = texts.get(kind)
        if template is None:
            return None
        tid = tracking.display(report.tracking_id)
        return template.format(tid=tid, status=report.status,
                               url=f"{self.base}/lacak/{tid}")
