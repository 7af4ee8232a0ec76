"""FakeBotApi: the stand-in itself, with the helpers tests use to set it up, play users and
read what the bot did."""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Literal

from bot.devserver.errors import ApiError, ContentError, bad_request
from bot.devserver.limits import RateLimiter, RateLimits
from bot.devserver.methods import HANDLERS, MAX_DOWNLOAD, Handler, Params
from bot.devserver.objects import (
    JSON,
    Chat,
    ChatMessage,
    InlineAnswer,
    MemberStatus,
    QueryAnswer,
    StoredFile,
    User,
)
from bot.devserver.server import ApiHttpServer
from bot.devserver.spec import ApiSpec
from bot.devserver.users import PlayingUsers
from bot.devserver.world import World

_LOG = logging.getLogger(__name__)
_PATH = re.compile(r"/bot([^/]+)/([^/]+)")
_FILE_PATH = re.compile(r"/file/bot([^/]+)/(.+)")  # base_file_url + token + "/" + file_path


@dataclass(frozen=True, slots=True)
class Call:
    """A call that reached a method (passed the spec check), with its error if it was refused."""

    method: str
    params: Mapping[str, object]
    error: str | None


@dataclass(frozen=True, slots=True)
class Violation:
    """A call the Bot API description does not allow: unknown method or parameter, missing one."""

    method: str
    reason: str


@dataclass(frozen=True, slots=True)
class Rejection:
    """A message Telegram would refuse for its content: text, formatting, buttons, commands."""

    method: str
    description: str
    text: str | None  # the text, or the caption, refused


@dataclass(frozen=True, slots=True)
class _Fault:
    status: int | None
    delay: float
    retry_after: int | None


class FakeBotApi(PlayingUsers):
    """A local Telegram Bot API: point a bot's base_url at `base_url`; any token works.

    Set up users and chats, play the users, wait for the bot, read what it did:

        with FakeBotApi(spec_path) as api:
            alice = api.add_user(1001, "Alice")
            bot = telegram.Bot("123:ABC", base_url=api.base_url)
            ...
            api.user_sends(alice.id, "/start")
            await api.wait_idle()
            print(api.transcript(alice.id))
            assert api.violations == [] and api.rejected == []
    """

    def __init__(
        self,
        spec: Path | str | None = None,
        *,
        bot_id: int = 5000000001,
        bot_username: str = "paperboy_test_bot",
        bot_name: str = "paperboy",
        limits: RateLimits | None = RateLimits(),  # noqa: B008 (frozen, so safe to share)
        latency: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        inline: bool = True,
    ) -> None:
        """`spec`: a Bot API description to check every call against; `limits`: None for no
        flood limits; `latency`: seconds added to every answer; `clock`: the rate limits' clock;
        `inline`: whether inline mode is on (BotFather's /setinline), as getMe tells."""
        self._spec = ApiSpec.load(Path(spec)) if spec is not None else None
        self.bot = User(bot_id, bot_name, username=bot_username, language_code=None, is_bot=True)
        limiter = RateLimiter(limits, clock) if limits is not None else None
        self._world = World(self.bot, limiter, inline=inline)
        self.latency = latency
        self.calls: list[Call] = []
        self.violations: list[Violation] = []
        self.rejected: list[Rejection] = []
        self.throttled = 0  # calls answered 429
        self.tokens: set[str] = set()  # every token seen in a URL
        self._links: set[tuple[str, str]] = set()  # (token, file_path) getFile handed out
        self._faults: dict[str, deque[_Fault]] = {}
        self._in_flight = 0  # requests being answered, long polls aside
        self._last_activity = 0.0
        self._ids = itertools.count(1)
        self._server: ApiHttpServer | None = None
        self._thread: threading.Thread | None = None

    # --- running -------------------------------------------------------------------------

    def start(self) -> FakeBotApi:
        self._server = ApiHttpServer(self._answer)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._world.changed:
            self._world.stopping.set()  # ends long polls and injected hangs
            self._world.changed.notify_all()
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()

    def __enter__(self) -> FakeBotApi:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """For Bot(base_url=...) / Application.builder().base_url(...): the token is appended."""
        return f"{self._root()}/bot"

    @property
    def base_file_url(self) -> str:
        """For Bot(base_file_url=...) / Application.builder().base_file_url(...): PTB appends
        the token, then "/" and getFile's file_path, as for api.telegram.org/file/bot."""
        return f"{self._root()}/file/bot"

    def _root(self) -> str:
        if self._server is None:
            raise RuntimeError("start the FakeBotApi first")
        return f"http://127.0.0.1:{self._server.port}"

    # --- setting up ------------------------------------------------------------------------

    def add_user(
        self,
        user_id: int,
        first_name: str,
        *,
        username: str | None = None,
        last_name: str | None = None,
        language_code: str | None = "en",
    ) -> User:
        """A user, and their private chat with the bot (whose id is the user's)."""
        user = User(user_id, first_name, username, last_name, language_code)
        with self._world.changed:
            self._world.users[user_id] = user
            self._world.add_chat(
                Chat(
                    user_id,
                    "private",
                    first_name=first_name,
                    last_name=last_name,
                    username=username,
                )
            )
        return user

    def add_chat(
        self,
        chat_id: int,
        kind: Literal["group", "supergroup", "channel"],
        title: str,
        *,
        username: str | None = None,
        is_forum: bool = False,
        members: Mapping[int, MemberStatus] | None = None,
    ) -> Chat:
        """A group, supergroup (`is_forum` for topics) or channel. `members` gives statuses by
        user id; the bot is a member, or the administrator of a channel, unless given."""
        if is_forum and kind != "supergroup":
            raise ValueError("only supergroups can be forums")
        chat = Chat(chat_id, kind, title=title, username=username, is_forum=is_forum)
        chat.members[self.bot.id] = "administrator" if kind == "channel" else "member"
        chat.members.update(members or {})
        with self._world.changed:
            return self._world.add_chat(chat)

    def chat(self, chat_id: int) -> Chat:
        """The chat's live settings: set blocked, deactivated, kicked, members..."""
        return self._world.chats[chat_id]

    def inject(
        self,
        method: str,
        *,
        times: int = 1,
        status: int | None = 500,
        delay: float = 0.0,
        retry_after: int | None = None,
    ) -> None:
        """The next `times` calls of `method` wait `delay` seconds, then answer `status`
        (None: answer normally after the delay); `retry_after` makes it a 429 flood wait."""
        if retry_after is not None:
            status = 429
        faults = self._faults.setdefault(method.lower(), deque())
        faults.extend(_Fault(status, delay, retry_after) for _ in range(times))

    # --- reading what the bot did -----------------------------------------------------------

    def file(self, file_id: str) -> StoredFile:
        """A file Telegram keeps (a user's or one the bot uploaded): name, MIME type, bytes."""
        with self._world.changed:
            stored = self._world.files.get(file_id)
        if stored is None:
            raise LookupError(f"no file {file_id!r}")
        return stored

    def sent(self, chat_id: int) -> list[ChatMessage]:
        """The bot's messages in a chat, oldest first, as they are now (edits applied)."""
        with self._world.changed:
            return [m for m in self._world.messages.get(chat_id, []) if m.from_bot]

    @property
    def answers(self) -> list[QueryAnswer]:
        """The bot's answers to callback queries, in order."""
        with self._world.changed:
            return list(self._world.query_answers)

    @property
    def unanswered(self) -> int:
        """Callback queries the bot has not answered (yet): Telegram's app shows a spinner on
        each of those buttons until the query times out."""
        with self._world.changed:
            return len(self._world.open_queries)

    @property
    def inline_answers(self) -> list[InlineAnswer]:
        """The bot's accepted answers to inline queries, in order."""
        with self._world.changed:
            return list(self._world.inline_answers)

    def inline_answer(self, query_id: str) -> InlineAnswer | None:
        """The bot's answer to one inline query; None while it has not answered."""
        with self._world.changed:
            found = [a for a in self._world.inline_answers if a.query.id == query_id]
        return found[-1] if found else None

    async def ask_inline(
        self,
        user_id: int,
        query: str,
        *,
        offset: str = "",
        chat_type: str | None = "sender",
        timeout: float = 5.0,
    ) -> InlineAnswer:
        """`user_id` types "@bot `query`"; waits for the bot's answer and returns it
        (TimeoutError if the bot gives none, or only answers Telegram refused)."""
        query_id = self.user_types_inline(user_id, query, offset=offset, chat_type=chat_type)
        deadline = time.monotonic() + timeout
        while (answer := self.inline_answer(query_id)) is None:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no answer to inline query {query!r} in {timeout}s")
            await asyncio.sleep(0.02)
        return answer

    def transcript(self, chat_id: int) -> str:
        """The chat as a person reads it: who wrote what (current texts), and the buttons."""
        lines = []
        with self._world.changed:
            for message in self._world.messages.get(chat_id, []):
                first, *rest = message.shown.split("\n")
                lines.append(f"{self._world.users[message.sender_id].first_name}: {first}")
                lines += [f"    {line}" for line in rest]
                for row in (message.reply_markup or {}).get("inline_keyboard", []):
                    lines.append("    " + " ".join(f"[{button['text']}]" for button in row))
        return "\n".join(lines)

    async def wait_idle(self, timeout: float = 5.0, quiet: float = 0.1) -> None:
        """Wait until the bot has fetched every update and made no request for `quiet`
        seconds, none in flight: its replies are in. TimeoutError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            with self._world.changed:
                unfetched = sum(
                    1 for u in self._world.updates if u["update_id"] > self._world.delivered_upto
                )
                busy = self._in_flight
                idle_for = time.monotonic() - self._last_activity
            if not unfetched and not busy and idle_for >= quiet:
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"bot not idle after {timeout}s: {unfetched} updates not fetched, "
                    f"{busy} requests in flight"
                )
            await asyncio.sleep(0.01)

    async def converse(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: int | None = None,
        thread_id: int | None = None,
        timeout: float = 5.0,
    ) -> list[ChatMessage]:
        """`user_id` writes `text`; waits until the bot has answered in that chat (a handler
        may think without making requests, which wait_idle alone would take for quiet) and
        gone idle; returns the bot's new messages there (none if it stays silent)."""
        chat = chat_id if chat_id is not None else user_id

        def replies() -> list[ChatMessage]:
            return [m for m in self.sent(chat) if m.sender_id == self.bot.id]

        before = len(replies())
        self.user_sends(user_id, text, chat_id=chat_id, thread_id=thread_id)
        deadline = time.monotonic() + timeout
        await self.wait_idle(timeout)
        while len(replies()) == before and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            await self.wait_idle(timeout)
        return replies()[before:]

    # --- answering -------------------------------------------------------------------------

    def _answer(self, path: str, params: dict[str, object]) -> tuple[int, JSON | bytes]:
        download = _FILE_PATH.fullmatch(path)
        if download is not None:
            return self._download(*download.groups())
        match = _PATH.fullmatch(path)
        if match is None:
            return 404, ApiError(404, "Not Found").envelope()
        token, method = match.groups()
        polling = method.lower() == "getupdates"  # long polls are not activity
        with self._world.changed:
            self.tokens.add(token)
            if not polling:
                self._in_flight += 1
        result: object = None
        try:
            if self.latency:
                self._world.stopping.wait(self.latency)
            result = self._call(method, params)
            if method.lower() == "getfile" and isinstance(result, dict):
                with self._world.changed:  # the link works with this bot's token only
                    self._links.add((token, result["file_path"]))
            return 200, {"ok": True, "result": result}
        except ApiError as error:
            return error.status, error.envelope()
        except Exception:
            _LOG.exception("the Bot API stand-in failed to answer %s", method)
            return 500, ApiError(500, "Internal Server Error").envelope()
        finally:
            with self._world.changed:
                if not polling:
                    self._in_flight -= 1
                if not polling or result:  # a poll that delivered updates is activity
                    self._last_activity = time.monotonic()

    def _download(self, token: str, file_path: str) -> tuple[int, JSON | bytes]:
        """A file's bytes, for a token getFile gave its file_path to; else 404, as Telegram."""
        with self._world.changed:
            self.tokens.add(token)
            self._in_flight += 1  # the bot is busy downloading: not idle
        try:
            if self.latency:
                self._world.stopping.wait(self.latency)
            with self._world.changed:
                stored = self._world.files_by_path.get(file_path)
                linked = (token, file_path) in self._links
            if stored is None or not linked or stored.size > MAX_DOWNLOAD:
                return 404, ApiError(404, "Not Found").envelope()
            return 200, stored.data
        finally:
            with self._world.changed:
                self._in_flight -= 1
                self._last_activity = time.monotonic()

    def _call(self, method: str, params: dict[str, object]) -> object:
        name, handler = self._resolve(method, params)
        with self._world.changed:  # concurrent requests take faults one each
            faults = self._faults.get(name.lower())
            fault = faults.popleft() if faults else None
        if fault is not None:
            self._world.stopping.wait(fault.delay)
            if fault.retry_after is not None:
                with self._world.changed:
                    self.throttled += 1
                raise ApiError(
                    429,
                    f"Too Many Requests: retry after {fault.retry_after}",
                    {"retry_after": fault.retry_after},
                )
            if fault.status is not None:
                raise ApiError(fault.status, HTTPStatus(fault.status).phrase)
        with self._world.changed:
            try:
                result = handler(self._world, Params(params))
            except ApiError as error:
                self.calls.append(Call(name, params, error.description))
                if error.status == 429:
                    self.throttled += 1
                if isinstance(error, ContentError):
                    text = params.get("text", params.get("caption"))
                    shown = None if text is None else str(text)
                    self.rejected.append(Rejection(name, error.description, shown))
                raise
            self.calls.append(Call(name, params, None))
            return result

    def _resolve(self, method: str, params: Mapping[str, object]) -> tuple[str, Handler]:
        """The method's real name and handler, once the spec (if any) allows the call."""
        known = HANDLERS.get(method.lower())
        if self._spec is None:
            if known is None:
                raise ApiError(404, "Not Found")
            return known
        spec = self._spec.method(method)
        if spec is None:
            self.violations.append(Violation(method, "unknown method"))
            raise ApiError(404, "Not Found")
        problem = spec.problem(params.keys())
        if problem is not None:
            self.violations.append(Violation(spec.name, problem))
            raise bad_request(problem)
        if known is None:
            raise ApiError(501, f"Not Implemented: the Bot API stand-in has no {spec.name}")
        return known
