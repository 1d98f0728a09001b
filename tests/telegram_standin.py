"""A local Telegram Bot API stand-in: the bot under test talks HTTP to it as to api.telegram.org.

It implements what sentibot uses (getMe, getUpdates with long polling and offsets, setWebhook,
deleteWebhook, getWebhookInfo, sendMessage, editMessageText, editMessageReplyMarkup, sendPhoto,
sendDocument, answerCallbackQuery, answerInlineQuery, setMyCommands, sendChatAction) in Telegram's
response format, and gives tests a Python API to play a user: ``send_text``, ``send_photo``,
``press_button``, ``send_inline_query``, and ``wait_for`` on what the bot sent.

Two of Telegram's production behaviours are played too:

- flood control, off by default: with ``flood_limit = 30``, a call carrying a chat_id past 30 in the
  last second is answered ``429 Too Many Requests`` with ``retry_after``, as Telegram does;
- webhooks: after setWebhook, updates are POSTed to the registered URL with the
  X-Telegram-Bot-Api-Secret-Token header (and kept until the bot answers 200); getUpdates then
  answers 409, as Telegram does, until deleteWebhook.

Run it by hand too: ``python -m tests.telegram_standin --port 8081`` then type messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from sentibot.processes import wait_for

BOT = {
    "id": 999000,
    "is_bot": True,
    "first_name": "Sentibot",
    "username": "sentibot_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": True,
}
CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
)


@dataclass
class Sent:
    """One call the bot made."""

    method: str
    params: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    message_id: int | None = None
    at: float = field(default_factory=time.monotonic)  # when the stand-in received it


class TelegramStandIn:
    """The fake API server plus the test-side controls, running in a background thread."""

    def __init__(self, token: str = "123456:TEST-token", port: int = 0, host: str = "127.0.0.1") -> None:
        self.token = token
        self.port = port
        self.host = host  # 127.0.0.1; 0.0.0.0 only inside a container (bench/compose_e2e.sh)
        self.updates: list[dict] = []
        self.sent: list[Sent] = []
        self.messages: dict[tuple[int, int], dict] = {}
        self._ids = itertools.count(1)
        self._update_ids = itertools.count(1)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self.refuse: dict[str, int] = {}  # method -> HTTP error code to answer it with (429: Too Many Requests)
        self.sent_at: dict[int, float] = {}  # update_id -> when the user sent it
        self.uploads: dict[str, bytes] = {}  # file_id -> content of documents users sent
        self.flood_limit = 0  # calls with a chat_id a second past which it answers 429 (0: off, the default)
        self.flood_retry_after = 1  # seconds, in those 429s
        self.flood_refused = 0  # 429s it answered for flood_limit
        self._chat_calls: deque[float] = deque()  # when the calls with a chat_id of the last second came
        self.webhook: dict | None = None  # {"url", "secret_token", "max_connections"} after setWebhook
        self.webhook_posts: list[tuple[int, int]] = []  # (update_id, HTTP status) of every post to the webhook
        self._posting: set[int] = set()  # update_ids being posted now
        self.webhook_tls: ssl.SSLContext | None = None  # trusts a test CA for https:// webhooks (default: the system's)

    # --- lifecycle ------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        """What TELEGRAM_API_URL should be for a bot talking to this stand-in."""
        return f"http://127.0.0.1:{self.port}/bot"

    def start(self) -> TelegramStandIn:
        threading.Thread(target=self._serve, daemon=True, name="telegram-standin").start()
        if not self._ready.wait(10):
            raise RuntimeError("stand-in did not start")
        return self

    def stop(self) -> None:
        if self._loop and self._runner:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)

    async def _shutdown(self) -> None:
        self._delivery.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._delivery
        await self._runner.cleanup()

    def _serve(self) -> None:
        self._loop = asyncio.new_event_loop()
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        app.router.add_post("/test/send", self._test_send)
        app.router.add_post("/test/press", self._test_press)
        app.router.add_post("/test/inline", self._test_inline)
        app.router.add_get("/test/calls", self._test_calls)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, self.host, self.port)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]
        self._delivery = self._loop.create_task(self._deliver_forever())
        self._ready.set()
        self._loop.run_forever()

    # --- the Bot API ----------------------------------------------------------------------

    async def _params(self, request: web.Request) -> tuple[dict, dict[str, bytes]]:
        params: dict[str, Any] = {}
        files: dict[str, bytes] = {}
        if request.content_type == "application/json":
            params = await request.json()
        elif request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            async for part in reader:
                if part.filename:
                    files[part.name] = bytes(await part.read())
                else:
                    params[part.name] = await part.text()
        elif request.can_read_body:
            params = dict(await request.post())
        for key, value in list(params.items()):
            if isinstance(value, str) and value[:1] in "[{":
                with contextlib.suppress(ValueError):
                    params[key] = json.loads(value)
        return params, files

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        params, files = await self._params(request)
        if "chat_id" in params and self._flooded():
            self._record(f"refused:{method}", params)
            return web.json_response(
                {
                    "ok": False,
                    "error_code": 429,
                    "description": f"Too Many Requests: retry after {self.flood_retry_after}",
                    "parameters": {"retry_after": self.flood_retry_after},
                },
                status=429,
            )
        if method in self.refuse:
            self._record(f"refused:{method}", params)
            code = self.refuse[method]
            error = {"ok": False, "error_code": code, "description": f"Error {code} from the stand-in"}
            if code == 429:
                error |= {"description": "Too Many Requests: retry after 5", "parameters": {"retry_after": 5}}
            return web.json_response(error, status=code)
        handler = getattr(self, f"api_{method}", None)
        if handler is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found: method not found"}, status=404
            )
        result = await handler(params, files) if asyncio.iscoroutinefunction(handler) else handler(params, files)
        return web.json_response({"ok": True, "result": result})

    def _flooded(self) -> bool:
        """Whether this call is one past ``flood_limit`` in the last second (then it is not counted)."""
        if not self.flood_limit:
            return False
        now = time.monotonic()
        with self._lock:
            while self._chat_calls and now - self._chat_calls[0] >= 1.0:
                self._chat_calls.popleft()
            if len(self._chat_calls) >= self.flood_limit:
                self.flood_refused += 1
                return True
            self._chat_calls.append(now)
        return False

    def api_getMe(self, params, files):
        return BOT

    def api_setWebhook(self, params, files):
        self._record("setWebhook", params)
        if not str(params.get("url", "")).startswith(("https://", "http://")):
            error = {"ok": False, "error_code": 400, "description": "Bad Request: bad webhook: invalid URL"}
            raise web.HTTPBadRequest(text=json.dumps(error), content_type="application/json")
        with self._lock:
            if params.get("drop_pending_updates"):
                self.updates.clear()
            self.webhook = {
                "url": params["url"],
                "secret_token": params.get("secret_token"),
                "max_connections": int(params.get("max_connections") or 40),
            }
        return True

    def api_deleteWebhook(self, params, files):
        self._record("deleteWebhook", params)
        with self._lock:
            if params.get("drop_pending_updates"):
                self.updates.clear()
            self.webhook = None
        return True

    def api_getWebhookInfo(self, params, files):
        with self._lock:
            return {
                "url": self.webhook["url"] if self.webhook else "",
                "has_custom_certificate": False,
                "pending_update_count": len(self.updates),
            }

    def api_answerInlineQuery(self, params, files):
        if "cache_time" in params:  # form-encoded: as Telegram reads them
            params["cache_time"] = int(params["cache_time"])
        params["is_personal"] = str(params.get("is_personal", "false")).lower() == "true"
        self._record("answerInlineQuery", params)
        return True

    def api_setMyCommands(self, params, files):
        self._record("setMyCommands", params)
        return True

    def api_sendChatAction(self, params, files):
        self._record("sendChatAction", params)
        return True

    def api_getFile(self, params, files):
        file_id = params["file_id"]
        if file_id not in self.uploads:
            raise web.HTTPBadRequest(
                text=json.dumps({"ok": False, "error_code": 400, "description": "Bad Request: invalid file_id"}),
                content_type="application/json",
            )
        size = len(self.uploads[file_id])
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": size,
            "file_path": f"documents/{file_id}",
        }

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        content = self.uploads.get(request.match_info["path"].rsplit("/", 1)[-1])
        return web.Response(body=content) if content is not None else web.Response(status=404)

    def api_answerCallbackQuery(self, params, files):
        self._record("answerCallbackQuery", params)
        return True

    async def api_getUpdates(self, params, files):
        offset = int(params.get("offset") or 0)
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        while True:
            if self.webhook is not None:
                raise web.HTTPConflict(
                    text=json.dumps({"ok": False, "error_code": 409, "description": CONFLICT}),
                    content_type="application/json",
                )
            with self._lock:
                self.updates = [u for u in self.updates if u["update_id"] >= offset]
                pending = list(self.updates)
            if pending or time.monotonic() >= deadline:
                return pending[: int(params.get("limit") or 100)]
            await asyncio.sleep(0.02)

    def _bot_message(self, params: dict, **content) -> dict:
        chat_id = int(params["chat_id"])
        message = {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "from": BOT,
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
            **content,
        }
        if "reply_markup" in params:
            message["reply_markup"] = params["reply_markup"]
        self.messages[(chat_id, message["message_id"])] = message
        return message

    def api_sendMessage(self, params, files):
        message = self._bot_message(params, text=params["text"])
        self._record("sendMessage", params, message_id=message["message_id"])
        return message

    def api_editMessageText(self, params, files):
        key = (int(params["chat_id"]), int(params["message_id"]))
        message = {**self.messages[key], "text": params["text"], "edit_date": int(time.time())}
        self.messages[key] = message
        self._record("editMessageText", params, message_id=key[1])
        return message

    def api_editMessageReplyMarkup(self, params, files):
        key = (int(params["chat_id"]), int(params["message_id"]))
        message = {k: v for k, v in self.messages[key].items() if k != "reply_markup"}
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        self.messages[key] = message
        self._record("editMessageReplyMarkup", params, message_id=key[1])
        return message

    def api_sendPhoto(self, params, files):
        photo = [
            {
                "file_id": f"photo{len(self.sent)}",
                "file_unique_id": f"u{len(self.sent)}",
                "width": 1000,
                "height": 400,
                "file_size": len(files.get("photo", b"")),
            }
        ]
        message = self._bot_message(params, photo=photo, caption=params.get("caption"))
        self._record("sendPhoto", params, files, message["message_id"])
        return message

    def api_sendDocument(self, params, files):
        document = {"file_id": f"doc{len(self.sent)}", "file_unique_id": f"d{len(self.sent)}"}
        message = self._bot_message(params, document=document, caption=params.get("caption"))
        self._record("sendDocument", params, files, message["message_id"])
        return message

    def _record(self, method: str, params: dict, files: dict | None = None, message_id: int | None = None) -> None:
        with self._lock:
            self.sent.append(Sent(method, params, files or {}, message_id))

    # --- webhook delivery ---------------------------------------------------------------------

    async def _deliver_forever(self) -> None:
        """While a webhook is set, POST each pending update to it (up to max_connections at once)."""
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            while True:
                hook = self.webhook
                if hook is not None:
                    with self._lock:
                        due = [u for u in self.updates if u["update_id"] not in self._posting]
                        due = due[: max(0, hook["max_connections"] - len(self._posting))]
                        self._posting.update(u["update_id"] for u in due)
                    for update in due:
                        asyncio.get_running_loop().create_task(self._post(session, hook, update))
                await asyncio.sleep(0.01)

    async def _post(self, session: aiohttp.ClientSession, hook: dict, update: dict) -> None:
        """One post; answered 200 it is delivered, otherwise it is tried again (as Telegram does)."""
        headers = {"X-Telegram-Bot-Api-Secret-Token": hook["secret_token"]} if hook["secret_token"] else {}
        tls = self.webhook_tls or True  # True: aiohttp's default verification
        try:
            async with session.post(hook["url"], json=update, headers=headers, ssl=tls) as response:
                status = response.status
        except (aiohttp.ClientError, TimeoutError):
            status = 0  # not reachable (the bot is not listening yet, or went away)
        with self._lock:
            self.webhook_posts.append((update["update_id"], status))
            if status == 200:
                self.updates = [u for u in self.updates if u is not update]
        if status != 200:
            await asyncio.sleep(0.2)
        self._posting.discard(update["update_id"])

    # --- the test side over HTTP (for a stand-in in another process or container) ----------

    async def _test_send(self, request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response(self.send_text(int(body["user_id"]), body["text"], body.get("chat_id")))

    async def _test_press(self, request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response(self.press_button(int(body["user_id"]), int(body["message_id"]), body["data"]))

    async def _test_inline(self, request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response(self.send_inline_query(int(body["user_id"]), body["query"]))

    async def _test_calls(self, request: web.Request) -> web.Response:
        chat = request.query.get("chat_id")
        calls = self.calls(int(chat) if chat else None, request.query.get("method"))
        return web.json_response(
            [
                {
                    "method": c.method,
                    "params": c.params,
                    "message_id": c.message_id,
                    "files": {name: len(data) for name, data in c.files.items()},
                }
                for c in calls
            ]
        )

    # --- the test side: play a user -------------------------------------------------------

    def _push(self, update: dict) -> dict:
        with self._lock:
            update["update_id"] = next(self._update_ids)
            self.updates.append(update)
            self.sent_at[update["update_id"]] = time.monotonic()
        return update

    @staticmethod
    def _user(user_id: int) -> dict:
        return {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}

    def _message(self, user_id: int, chat_id: int | None, **content) -> dict:
        chat_id = chat_id if chat_id is not None else user_id
        chat = {"id": chat_id, "type": "private" if chat_id > 0 else "group"}
        if chat_id < 0:
            chat["title"] = "Movie club"
        return {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "from": self._user(user_id),
            "chat": chat,
            **content,
        }

    def send_text(
        self, user_id: int, text: str, chat_id: int | None = None, reply_to: dict | None = None, via_bot: bool = False
    ) -> dict:
        """A user sends a text message (a command if it starts with /; ``via_bot``: an inline result of this bot
        that the user chose)."""
        content: dict[str, Any] = {"text": text}
        if via_bot:
            content["via_bot"] = BOT
        if text.startswith("/"):
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        if reply_to is not None:
            content["reply_to_message"] = reply_to
        return self._push({"message": self._message(user_id, chat_id, **content)})

    def send_document(
        self, user_id: int, file_name: str, content: bytes, chat_id: int | None = None, declared_size: int | None = None
    ) -> dict:
        """A user sends a file (``declared_size``: what Telegram says its size is, for files too big to make)."""
        file_id = f"doc{next(self._ids)}"
        self.uploads[file_id] = content
        document = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_name": file_name,
            "file_size": declared_size if declared_size is not None else len(content),
        }
        return self._push({"message": self._message(user_id, chat_id, document=document)})

    def send_photo(self, user_id: int, chat_id: int | None = None) -> dict:
        """A user sends a photo."""
        photo = [{"file_id": "p1", "file_unique_id": "p1u", "width": 10, "height": 10}]
        return self._push({"message": self._message(user_id, chat_id, photo=photo)})

    def send_sticker(self, user_id: int) -> dict:
        """A user sends a sticker."""
        sticker = {
            "file_id": "s1",
            "file_unique_id": "s1u",
            "width": 10,
            "height": 10,
            "is_animated": False,
            "is_video": False,
            "type": "regular",
        }
        return self._push({"message": self._message(user_id, None, sticker=sticker)})

    def press_button(self, user_id: int, message_id: int, data: str, chat_id: int | None = None) -> dict:
        """A user presses an inline button under one of the bot's messages (in ``chat_id``: a group's)."""
        message = self.messages[(chat_id if chat_id is not None else user_id, message_id)]
        return self._push(
            {
                "callback_query": {
                    "id": str(next(self._ids)),
                    "from": self._user(user_id),
                    "chat_instance": "ci",
                    "data": data,
                    "message": message,
                }
            }
        )

    def send_inline_query(self, user_id: int, query: str) -> dict:
        """A user types ``@bot <query>`` in some chat."""
        inline = {"id": str(next(self._ids)), "from": self._user(user_id), "query": query, "offset": ""}
        return self._push({"inline_query": {**inline, "chat_type": "private"}})

    def inline_answer(self, update: dict, timeout: float = 15.0) -> Sent:
        """Wait for the bot's answerInlineQuery to the query ``update`` carried; return that call."""
        query_id = update["inline_query"]["id"]
        return self.wait_for(
            lambda s: next(
                (c for c in s.calls(method="answerInlineQuery") if c.params["inline_query_id"] == query_id), None
            ),
            timeout,
        )

    def calls(self, chat_id: int | None = None, method: str | None = None) -> list[Sent]:
        """What the bot sent, optionally to one chat and of one kind."""
        with self._lock:
            return [
                s
                for s in self.sent
                if (method is None or s.method == method)
                and (chat_id is None or int(s.params.get("chat_id", 0)) == chat_id)
            ]

    def texts(self, chat_id: int) -> list[str]:
        """Texts of messages and edits sent to a chat, in order."""
        return [s.params["text"] for s in self.calls(chat_id) if s.method in ("sendMessage", "editMessageText")]

    def wait_for(self, predicate, timeout: float = 15.0):
        """Poll until predicate(self) is truthy and return its value (the suite's one poll, sentibot's own);
        past the timeout, fail the test with what the bot did send."""
        try:
            return wait_for(lambda: predicate(self), timeout)
        except TimeoutError:
            pass
        raise AssertionError(
            f"the bot did not do that within {timeout} s; it sent: {[s.method for s in self.sent]} "
            f"{[s.params.get('text') for s in self.sent][-5:]}"
        )

    def wait_text(self, chat_id: int, needle: str, timeout: float = 15.0) -> str:
        """Wait until a message or edit to chat_id contains needle; return that text."""
        return self.wait_for(lambda s: next((t for t in s.texts(chat_id) if needle in t), None), timeout)


def main() -> None:
    """Run the stand-in by hand and type messages as user 1 (who can be made admin with ADMIN_IDS=1)."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default="123456:TEST-token")
    parser.add_argument("--host", default="127.0.0.1", help="0.0.0.0 only inside a container")
    parser.add_argument("--serve", action="store_true", help="no prompt: serve until stopped (driven over /test/)")
    parser.add_argument("--webhook-cafile", help="trust this CA (PEM) when posting to an https:// webhook")
    args = parser.parse_args()
    standin = TelegramStandIn(args.token, args.port, args.host)
    if args.webhook_cafile:
        standin.webhook_tls = ssl.create_default_context(cafile=args.webhook_cafile)
    standin.start()
    if args.serve:
        print(f"stand-in on {args.host}:{standin.port}", flush=True)
        threading.Event().wait()
    print(f"TELEGRAM_API_URL={standin.api_url} TELEGRAM_TOKEN={args.token} ADMIN_IDS=1 sentibot bot")
    print("Type a message as user 1 (Ctrl-D to quit).")
    seen = 0
    try:
        while True:
            line = input("you> ")
            standin.send_text(1, line)
            time.sleep(0.5)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                calls = standin.calls(1)
                for call in calls[seen:]:
                    if call.method in ("sendMessage", "editMessageText"):
                        print(f"bot> {call.params['text']}")
                    elif call.method == "sendPhoto":
                        print(f"bot> [photo, {len(call.files.get('photo', b''))} bytes]")
                seen = len(calls)
                if calls and calls[-1].method == "sendMessage" and "Training" not in calls[-1].params["text"]:
                    break
                time.sleep(0.2)
    except (EOFError, KeyboardInterrupt):
        pass
    standin.stop()


if __name__ == "__main__":
    main()
