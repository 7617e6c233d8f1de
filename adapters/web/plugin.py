"""The city website channel (official channel 7): the /lapor form and its JSON endpoint."""

from __future__ import annotations

from core.adapter import Adapter
from core.hookspecs import hookimpl


class WebAdapter(Adapter):
    name = "web"
    sender_kind = "web"
    replies_inline = True


@hookimpl
def kanal_register_adapters(register):
    register(WebAdapter)
