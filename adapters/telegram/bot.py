"""A python-telegram-bot ``Bot`` on a private event loop, for the adapter's sync callers
(the dispatcher, the media fetcher and the poller run in scheduler threads)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from telegram import Bot
from telegram.request import HTTPXRequest

T = TypeVar("T")
log = logging.getLogger(__name__)


class RawUpdatesRequest(HTTPXRequest):
    """Keeps the last getUpdates answer as Telegram sent it, so the inbox stores the
    provider's updates rather than PTB's re-serialisation of them."""

    last_payload: bytes | None = None

    async def do_request(self, *args: Any, **kw: Any) -> tuple[int, bytes]:
        code, payload = await super().do_request(*args, **kw)
        self.last_payload = payload if 200 <= code < 300 else None
        return code, payload

    def last_updates(self) -> list[Any]:
        data = json.loads(self.last_payload) if self.last_payload else None
        result = data.get("result") if isinstance(data, dict) else None
        return result if isinstance(result, list) else []


class BotRunner:
    """One daemon thread running one event loop, started at the first call. The ``Bot``
    is built and initialized (``getMe``) once, on that loop."""

    def __init__(self, token: str, api_base: str, timeout: float = 30.0):
        self.token, self.api_base, self.timeout = token, api_base, timeout
        self.updates_request = RawUpdatesRequest(connect_timeout=10.0, read_timeout=timeout)
        self._bot: Bot | None = None
        self._init_lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _make_bot(self) -> Bot:
        return Bot(self.token, base_url=f"{self.api_base}/bot",
                   base_file_url=f"{self.api_base}/file/bot",
                   request=HTTPXRequest(connect_timeout=10.0, read_timeout=self.timeout,
                                        write_timeout=self.timeout),
                   get_updates_request=self.updates_request)

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, daemon=True,
                                          name=f"telegram-bot-{id(self):x}")
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    async def _bot_ready(self) -> Bot:
        if self._init_lock is None:
            self._init_lock = asyncio.Lock()
        async with self._init_lock:
            if self._bot is None:
                bot = self._make_bot()
                await bot.initialize()  # getMe; raises, and is tried again, when it fails
                self._bot = bot
        return self._bot

    async def _call(self, work: Callable[[Bot], Awaitable[T]]) -> T:
        return await work(await self._bot_ready())

    def run(self, work: Callable[[Bot], Awaitable[T]]) -> T:
        """Run ``work(bot)`` on the private loop and wait for its result."""
        future = asyncio.run_coroutine_threadsafe(self._call(work), self._ensure_loop())
        try:
            return future.result(self.timeout + 15)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"the Bot API call took longer than {self.timeout + 15:g} s")

    def close(self) -> None:
        with self._lock:
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
            self._init_lock = None
        if loop is None or thread is None:
            return
        if self._bot is not None:
            bot, self._bot = self._bot, None
            try:
                asyncio.run_coroutine_threadsafe(bot.shutdown(), loop).result(10)
            except Exception as exc:  # noqa: BLE001 - closing anyway
                log.debug("closing the Telegram bot: %s", exc)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        if not thread.is_alive():
            loop.close()
