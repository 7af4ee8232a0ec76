"""The Bot API methods the stand-in answers, each a function of the world and the call's parameters.

Handlers run with `world.changed` held (getUpdates releases it while it long-polls), return
the call's `result`, and raise ApiError for what Telegram would refuse.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bot.devserver.errors import ApiError, ContentError, bad_request, forbidden
from bot.devserver.objects import Chat, ChatMessage, InlineAnswer, QueryAnswer, StoredFile
from bot.devserver.validation import (
    caption_text,
    inline_results,
    message_text,
    next_offset,
    reply_markup,
    results_button,
)
from bot.devserver.world import World, now

_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)


MAX_UPLOAD = 50 * 1024 * 1024  # bytes a bot may send as a file
MAX_DOWNLOAD = 20 * 1024 * 1024  # bytes of a file getFile lets a bot download


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A file part of a multipart request."""

    filename: str
    mime_type: str  # the part's Content-Type
    data: bytes = field(repr=False)  # up to 50 MB: kept out of recorded calls' reprs

    @property
    def size(self) -> int:
        return len(self.data)


class Params:
    """A call's parameters as received: strings from forms and query strings (where PTB
    JSON-encodes everything that is not a string), or JSON values from a JSON body."""

    def __init__(self, raw: Mapping[str, object]) -> None:
        self.raw = raw

    def text(self, name: str) -> str | None:
        value = self.raw.get(name)
        return None if value is None else str(value)

    def integer(self, name: str) -> int | None:
        value = self.raw.get(name)
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        try:
            return int(str(value))
        except ValueError:
            raise bad_request(f"invalid {name} specified") from None

    def flag(self, name: str) -> bool:
        value = self.raw.get(name)
        return value is True or (isinstance(value, str) and value.lower() in ("true", "1"))

    def json(self, name: str) -> object:
        value = self.raw.get(name)
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(f"can't parse {name} JSON object") from None

    def chat_ref(self) -> int | str:
        value = self.text("chat_id")
        if not value:
            raise bad_request("chat_id is empty")
        if value.startswith("@"):
            return value
        try:
            return int(value)
        except ValueError:
            raise bad_request("chat not found") from None


Handler = Callable[[World, Params], object]


def get_me(world: World, params: Params) -> object:
    return world.bot_json()


def get_updates(world: World, params: Params) -> object:
    if world.webhook_url:
        raise ApiError(
            409,
            "Conflict: can't use getUpdates method while webhook is active; "
            "use deleteWebhook to delete the webhook first",
        )
    world.confirm(params.integer("offset"))
    limit = min(max(params.integer("limit") or 100, 1), 100)
    deadline = time.monotonic() + max(params.integer("timeout") or 0, 0)
    # As Telegram does, a new getUpdates ends one still waiting (a client that gave up).
    world.poll += 1
    poll = world.poll
    world.changed.notify_all()
    while not world.updates and not world.stopping.is_set():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        world.changed.wait(remaining)
        if world.poll != poll:
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; "
                "make sure that only one bot instance is running",
            )
    batch = world.updates[:limit]
    if batch:
        world.delivered_upto = max(world.delivered_upto, batch[-1]["update_id"])
    return batch


def send_message(world: World, params: Params) -> object:
    chat, thread_id = _where_to_send(world, params)
    text = params.text("text") or ""
    parse_mode = params.text("parse_mode") or None
    shown = message_text(text, parse_mode)
    markup = reply_markup(params.raw.get("reply_markup"), inline_only=False)
    _admit(world, chat)
    message = world.post(
        chat,
        world.bot.id,
        text=text,
        parse_mode=parse_mode,
        shown=shown,
        reply_markup=markup,
        thread_id=thread_id,
    )
    return world.message_json(message)


def send_document(world: World, params: Params) -> object:
    chat, thread_id = _where_to_send(world, params)
    source = _document(world, params.raw.get("document"))
    caption = params.text("caption")
    parse_mode = params.text("parse_mode") or None
    shown_caption = caption_text(caption or "", parse_mode)
    markup = reply_markup(params.raw.get("reply_markup"), inline_only=False)
    _admit(world, chat)  # a file is a message: the same flood limits
    # An upload is kept only once its message goes out: a refused one leaves no file behind.
    document = (
        source
        if isinstance(source, StoredFile)
        else world.store_file(source.filename, source.mime_type, source.data)
    )
    label = f"[document {document.file_name}]"
    message = world.post(
        chat,
        world.bot.id,
        parse_mode=parse_mode,
        shown=f"{label} {shown_caption}" if shown_caption else label,
        reply_markup=markup,
        thread_id=thread_id,
        extra={"caption": shown_caption} if shown_caption else None,
        document=document,
        caption=caption,
    )
    return world.message_json(message)


def get_file(world: World, params: Params) -> object:
    stored = world.files.get(params.text("file_id") or "")
    if stored is None:
        raise bad_request("invalid file_id")
    if stored.size > MAX_DOWNLOAD:
        raise bad_request("file is too big")
    return stored.file_json()


def edit_message_text(world: World, params: Params) -> object:
    message = _message_to_edit(world, params)
    if message.text is None:
        raise bad_request("there is no text in the message to edit")
    text = params.text("text") or ""
    parse_mode = params.text("parse_mode") or None
    shown = message_text(text, parse_mode)
    # Without reply_markup an edit removes the keyboard, as in Telegram.
    markup = reply_markup(params.raw.get("reply_markup"), inline_only=True)
    if (text, parse_mode, markup) == (message.text, message.parse_mode, message.reply_markup):
        raise bad_request(_NOT_MODIFIED)
    message.edit(text, parse_mode, shown, markup, now())
    return world.message_json(message)


def edit_message_reply_markup(world: World, params: Params) -> object:
    message = _message_to_edit(world, params)
    markup = reply_markup(params.raw.get("reply_markup"), inline_only=True)
    if markup == message.reply_markup:
        raise bad_request(_NOT_MODIFIED)
    message.edit(message.text, message.parse_mode, message.shown, markup, now())
    return world.message_json(message)


def answer_callback_query(world: World, params: Params) -> object:
    query_id = params.text("callback_query_id") or ""
    if query_id not in world.open_queries:
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    world.open_queries.remove(query_id)
    world.query_answers.append(
        QueryAnswer(query_id, params.text("text"), params.flag("show_alert"), params.text("url"))
    )
    return True


def answer_inline_query(world: World, params: Params) -> object:
    """Once per query, and only with results Telegram takes (bot/devserver/validation.py);
    a refused answer leaves the query open, as the bot may try again."""
    query = world.inline_queries.get(params.text("inline_query_id") or "")
    if query is None:
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    results = inline_results(params.raw.get("results"))
    offset = next_offset(params.text("next_offset"))
    button = results_button(params.raw.get("button"))
    cache_time = params.integer("cache_time")
    del world.inline_queries[query.id]
    world.inline_answers.append(
        InlineAnswer(
            query,
            tuple(results),
            300 if cache_time is None else cache_time,  # Telegram's default
            params.flag("is_personal"),
            offset,
            button,
        )
    )
    return True


def set_my_commands(world: World, params: Params) -> object:
    commands = params.json("commands")
    if not isinstance(commands, list) or len(commands) > 100:
        raise ContentError("can't parse commands: expected an Array of at most 100 BotCommand")
    for command in commands:
        name = command.get("command") if isinstance(command, dict) else None
        if not isinstance(name, str) or not _COMMAND_NAME.fullmatch(name):
            raise ContentError("BOT_COMMAND_INVALID")
        description = command.get("description")
        if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
            raise ContentError("BOT_COMMAND_DESCRIPTION_INVALID")
    world.commands[_commands_key(params)] = [
        {"command": c["command"], "description": c["description"]} for c in commands
    ]
    return True


def get_my_commands(world: World, params: Params) -> object:
    return world.commands.get(_commands_key(params), [])


def delete_my_commands(world: World, params: Params) -> object:
    world.commands.pop(_commands_key(params), None)
    return True


def set_webhook(world: World, params: Params) -> object:
    url = params.text("url") or ""
    if url and not url.startswith("https://"):
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    world.webhook_url = url
    world.webhook_certificate = isinstance(params.raw.get("certificate"), UploadedFile)
    if params.flag("drop_pending_updates"):
        world.updates.clear()
    return True


def delete_webhook(world: World, params: Params) -> object:
    world.webhook_url = ""
    world.webhook_certificate = False
    if params.flag("drop_pending_updates"):
        world.updates.clear()
    return True


def get_webhook_info(world: World, params: Params) -> object:
    return {
        "url": world.webhook_url,
        "has_custom_certificate": world.webhook_certificate,
        "pending_update_count": len(world.updates),
    }


def get_chat(world: World, params: Params) -> object:
    return world.chat_full_json(_chat_to_read(world, params))


def get_chat_member(world: World, params: Params) -> object:
    chat = _chat_to_read(world, params)
    user = world.users.get(params.integer("user_id") or 0)
    if user is None:
        raise bad_request("user not found")
    return world.member_json(chat, user, world.status_of(chat, user.id))


def get_chat_administrators(world: World, params: Params) -> object:
    chat = _chat_to_read(world, params)
    if chat.type == "private":
        raise bad_request("there are no administrators in the private chat")
    admins = []
    for user_id in chat.members:
        status = world.status_of(chat, user_id)
        if status in ("creator", "administrator"):
            admins.append(world.member_json(chat, world.users[user_id], status))
    return admins


def close(world: World, params: Params) -> object:
    return True


def _where_to_send(world: World, params: Params) -> tuple[Chat, int | None]:
    """The chat a send method writes to, and its forum topic."""
    chat = _chat_to_write(world, params)
    thread_id = params.integer("message_thread_id")
    if thread_id is not None and not chat.is_forum:
        raise bad_request("message thread not found")
    return chat, thread_id


def _admit(world: World, chat: Chat) -> None:
    """The last checks before a message goes out: channel rights, then the flood limits
    (last, so that a refused message does not count)."""
    if chat.type == "channel" and world.status_of(chat, world.bot.id) != "administrator":
        raise bad_request("need administrator rights in the channel chat")
    if world.limiter is not None:
        world.limiter.admit(chat.id, private=chat.type == "private")


def _document(world: World, value: object) -> StoredFile | UploadedFile:
    """sendDocument's document: an upload, or the file_id of a file Telegram has."""
    if isinstance(value, UploadedFile):
        if value.size == 0:
            raise bad_request("file must be non-empty")
        if value.size > MAX_UPLOAD:
            raise ApiError(413, "Request Entity Too Large")
        return value
    ref = "" if value is None else str(value)
    if ref.startswith(("http://", "https://")):
        raise bad_request("failed to get HTTP URL content")  # the stand-in fetches nothing
    stored = world.files.get(ref)
    if stored is None:
        raise bad_request("wrong file identifier/HTTP URL specified")
    return stored


def _chat_to_read(world: World, params: Params) -> Chat:
    chat = world.chat(params.chat_ref())
    if chat.migrated_to is not None:
        raise ApiError(
            400,
            "Bad Request: group chat was upgraded to a supergroup chat",
            {"migrate_to_chat_id": chat.migrated_to},
        )
    if chat.kicked:
        raise forbidden(f"bot was kicked from the {chat.type} chat")
    return chat


def _chat_to_write(world: World, params: Params) -> Chat:
    chat = _chat_to_read(world, params)
    if chat.blocked:
        raise forbidden("bot was blocked by the user")
    if chat.deactivated:
        raise forbidden("user is deactivated")
    return chat


def _message_to_edit(world: World, params: Params) -> ChatMessage:
    if params.text("inline_message_id"):
        raise bad_request("MESSAGE_ID_INVALID")  # messages sent via the bot are not edited here
    chat = _chat_to_write(world, params)
    message = world.message(chat.id, params.integer("message_id") or 0)
    if message is None:
        raise bad_request("message to edit not found")
    if not message.from_bot:
        raise bad_request("message can't be edited")
    return message


def _commands_key(params: Params) -> tuple[str, str]:
    scope = params.json("scope") or {"type": "default"}
    return json.dumps(scope, sort_keys=True), params.text("language_code") or ""


# By lower-cased name (Telegram's method names are case-insensitive): the real name, the handler.
HANDLERS: dict[str, tuple[str, Handler]] = {
    name.lower(): (name, handler)
    for name, handler in {
        "getMe": get_me,
        "getUpdates": get_updates,
        "sendMessage": send_message,
        "sendDocument": send_document,
        "getFile": get_file,
        "editMessageText": edit_message_text,
        "editMessageReplyMarkup": edit_message_reply_markup,
        "answerCallbackQuery": answer_callback_query,
        "answerInlineQuery": answer_inline_query,
        "setMyCommands": set_my_commands,
        "getMyCommands": get_my_commands,
        "deleteMyCommands": delete_my_commands,
        "setWebhook": set_webhook,
        "deleteWebhook": delete_webhook,
        "getWebhookInfo": get_webhook_info,
        "getChat": get_chat,
        "getChatMember": get_chat_member,
        "getChatAdministrators": get_chat_administrators,
        "close": close,
        "logOut": close,
    }.items()
}
