"""Photos: ``tg-file:<file_id>`` references, fetched after the ack with getFile and a
download from the Bot API's file endpoint."""

from __future__ import annotations

from telegram import Bot
from telegram.error import BadRequest

from adapters.telegram.bot import BotRunner
from core.storage import UploadError

SCHEME = "tg-file:"


# UploadErrors are final: the media job gives up instead of retrying
class MediaTooLarge(UploadError):
    def __init__(self, message: str):
        super().__init__("file_too_large", message)


class MediaRefused(UploadError):
    """The file cannot be had: an unknown file_id, a file over the Bot API's download
    limit, or a file location we do not download from."""

    def __init__(self, message: str):
        super().__init__("not_downloadable", message)


def file_ref(file_id: str) -> str:
    return f"{SCHEME}{file_id}"


def file_id_of(url: str) -> str:
    if not url.startswith(SCHEME) or len(url) == len(SCHEME):
        raise MediaRefused(f"not a Telegram file reference: {url!r}")
    return url[len(SCHEME):]


async def _download(bot: Bot, file_id: str, max_bytes: int) -> bytes:
    try:
        file = await bot.get_file(file_id)
    except BadRequest as exc:  # "wrong file_id", "file is too big"
        raise MediaRefused(f"getFile: {exc}") from exc
    if file.file_size is not None and file.file_size > max_bytes:
        raise MediaTooLarge(f"file is {file.file_size} bytes; the limit is {max_bytes}")
    # PTB reads file_path from the local disk when such a file exists: only ever fetch
    # from the Bot API's own file endpoint
    if not (file.file_path or "").startswith(bot.base_file_url + "/"):
        raise MediaRefused("getFile gave no downloadable file_path")
    data = await file.download_as_bytearray()
    if len(data) > max_bytes:
        raise MediaTooLarge(f"file is {len(data)} bytes; the limit is {max_bytes}")
    return bytes(data)


def fetch(runner: BotRunner, url: str, max_bytes: int) -> bytes:
    file_id = file_id_of(url)
    return runner.run(lambda bot: _download(bot, file_id, max_bytes))
