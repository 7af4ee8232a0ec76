"""The users, chats and messages of the fake Telegram, and their Bot API JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

JSON = dict[str, Any]
ChatType = Literal["private", "group", "supergroup", "channel"]
MemberStatus = Literal["creator", "administrator", "member", "left", "kicked"]


@dataclass(frozen=True, slots=True)
class User:
    id: int
    first_name: str
    username: str | None = None
    last_name: str | None = None
    language_code: str | None = "en"
    is_bot: bool = False

    def to_json(self) -> JSON:
        out: JSON = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for name in ("last_name", "username", "language_code"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out


@dataclass(eq=False)
class Chat:
    """A chat the bot can reach. Change the flags at any time to make Telegram refuse."""

    id: int
    type: ChatType
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    is_forum: bool = False
    # Status per user id (the bot's included); users not in it have left.
    members: dict[int, MemberStatus] = field(default_factory=dict)
    blocked: bool = False  # private: the user blocked the bot
    deactivated: bool = False  # private: the user deleted their account
    kicked: bool = False  # group, supergroup, channel: the bot was removed
    migrated_to: int | None = None  # group: upgraded to this supergroup

    def to_json(self) -> JSON:
        out: JSON = {"id": self.id, "type": self.type}
        for name in ("title", "username", "first_name", "last_name"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.is_forum:
            out["is_forum"] = True
        return out


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A file kept on Telegram's servers: one a user sent, or one the bot uploaded. Sending it
    again by file_id shares this one object."""

    file_id: str
    file_unique_id: str
    file_name: str
    mime_type: str
    data: bytes = field(repr=False)  # up to 50 MB: kept out of assertion messages
    file_path: str  # the download path getFile gives, under /file/bot<token>/

    @property
    def size(self) -> int:
        return len(self.data)

    def document_json(self) -> JSON:
        """The Document a message carries."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_name": self.file_name,
            "mime_type": self.mime_type,
            "file_size": self.size,
        }

    def file_json(self) -> JSON:
        """getFile's File."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
            "file_path": self.file_path,
        }


@dataclass(frozen=True, slots=True)
class Edit:
    """One edit applied to a message: what it was changed to."""

    text: str | None
    parse_mode: str | None
    reply_markup: JSON | None
    date: int


@dataclass(eq=False)
class ChatMessage:
    """A message in a chat, from the bot or from a user."""

    chat_id: int
    message_id: int
    sender_id: int
    from_bot: bool
    date: int
    text: str | None = None  # as sent: with its markup when it has a parse mode
    parse_mode: str | None = None
    shown: str = ""  # what the chat shows: tags removed, entities decoded; "[sticker]"...
    reply_markup: JSON | None = None
    thread_id: int | None = None
    entities: list[JSON] = field(default_factory=list)
    extra: JSON = field(default_factory=dict)  # more Message fields: sticker, photo, caption...
    document: StoredFile | None = None  # its JSON is added to the message's
    caption: str | None = None  # as sent, with its markup; extra["caption"] is what shows
    edit_date: int | None = None
    edits: list[Edit] = field(default_factory=list)  # oldest first

    def edit(
        self, text: str | None, parse_mode: str | None, shown: str, markup: JSON | None, date: int
    ) -> None:
        self.text, self.parse_mode, self.shown, self.reply_markup = text, parse_mode, shown, markup
        self.edit_date = date
        self.edits.append(Edit(text, parse_mode, markup, date))

    def buttons(self) -> list[JSON]:
        """The inline keyboard's buttons, row by row."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [button for row in rows for button in row]


@dataclass(frozen=True, slots=True)
class QueryAnswer:
    """The bot's answerCallbackQuery: the notification or alert the user saw."""

    query_id: str
    text: str | None
    show_alert: bool
    url: str | None


@dataclass(frozen=True, slots=True)
class InlineQuery:
    """A query a user typed after the bot's @username, and where they typed it."""

    id: str
    user_id: int
    query: str
    offset: str
    chat_type: str | None


@dataclass(frozen=True, slots=True)
class InlineAnswer:
    """The bot's answerInlineQuery, as Telegram accepted it: what the user is offered."""

    query: InlineQuery
    results: tuple[JSON, ...]
    cache_time: int
    is_personal: bool
    next_offset: str
    button: JSON | None

    def result(self, result_id: str) -> JSON:
        for result in self.results:
            if result["id"] == result_id:
                return result
        raise LookupError(f"no result {result_id!r}: {[r['id'] for r in self.results]}")
