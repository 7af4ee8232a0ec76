"""What the fake Telegram knows: users, chats, messages, pending updates, commands, webhook.

One lock guards it all: hold `world.changed` to read or change anything, and notify it after
enqueueing an update (a long-polling getUpdates waits on it).
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import PurePosixPath

from bot.devserver.errors import bad_request
from bot.devserver.limits import RateLimiter
from bot.devserver.objects import (
    JSON,
    Chat,
    ChatMessage,
    InlineAnswer,
    InlineQuery,
    MemberStatus,
    QueryAnswer,
    StoredFile,
    User,
)

# Fields of ChatMemberAdministrator Telegram always sends; channel and group rights are added.
_ADMIN_RIGHTS = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": True,
    "can_restrict_members": True,
    "can_promote_members": False,
    "can_change_info": True,
    "can_invite_users": True,
    "can_post_stories": False,
    "can_edit_stories": False,
    "can_delete_stories": False,
}


# A file name's extension Telegram keeps in the download path ("documents/file_3.pdf").
_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,10}")


def now() -> int:
    return int(time.time())


class World:
    def __init__(self, bot: User, limiter: RateLimiter | None, *, inline: bool = True) -> None:
        self.changed = threading.Condition()
        self.stopping = threading.Event()
        self.bot = bot
        self.limiter = limiter
        self.inline = inline  # inline mode on, as /setinline in BotFather switches it
        self.users: dict[int, User] = {bot.id: bot}
        self.chats: dict[int, Chat] = {}
        self.messages: dict[int, list[ChatMessage]] = {}
        self.updates: list[JSON] = []  # enqueued, not yet confirmed by a getUpdates offset
        self.next_update_id = 1
        self.delivered_upto = 0  # the highest update_id getUpdates returned
        self.poll = 0  # number of the newest getUpdates call: it cuts off older ones
        self.open_queries: set[str] = set()  # callback queries not answered yet
        self.query_answers: list[QueryAnswer] = []
        # Inline queries by id while unanswered, and the answers Telegram accepted, in order.
        self.inline_queries: dict[str, InlineQuery] = {}
        self.inline_answers: list[InlineAnswer] = []
        self.commands: dict[tuple[str, str], list[JSON]] = {}  # by (scope JSON, language)
        self.webhook_url = ""
        self.webhook_certificate = False
        self.files: dict[str, StoredFile] = {}  # by file_id
        self.files_by_path: dict[str, StoredFile] = {}  # by getFile's file_path

    def add_chat(self, chat: Chat) -> Chat:
        self.chats[chat.id] = chat
        self.messages[chat.id] = []
        return chat

    def chat(self, ref: int | str) -> Chat:
        """The chat with this id, or the public one with this @username."""
        if isinstance(ref, str):
            name = ref.removeprefix("@").lower()
            for chat in self.chats.values():
                if chat.type != "private" and (chat.username or "").lower() == name:
                    return chat
        elif ref in self.chats:
            return self.chats[ref]
        raise bad_request("chat not found")

    def store_file(self, file_name: str, mime_type: str, data: bytes) -> StoredFile:
        """Keep a new file (a user's or an upload); its ids and download path count up."""
        number = len(self.files) + 1
        extension = PurePosixPath(file_name).suffix
        stored = StoredFile(
            file_id=f"document-{number}",
            file_unique_id=f"unique-document-{number}",
            file_name=file_name,
            mime_type=mime_type,
            data=data,
            file_path=f"documents/file_{number}"
            + (extension.lower() if _EXTENSION.fullmatch(extension) else ""),
        )
        self.files[stored.file_id] = stored
        self.files_by_path[stored.file_path] = stored
        return stored

    def post(
        self,
        chat: Chat,
        sender_id: int,
        *,
        shown: str,
        text: str | None = None,
        parse_mode: str | None = None,
        reply_markup: JSON | None = None,
        thread_id: int | None = None,
        entities: list[JSON] | None = None,
        extra: JSON | None = None,
        document: StoredFile | None = None,
        caption: str | None = None,
    ) -> ChatMessage:
        """Add a message to `chat`; message ids count per chat, as in Telegram."""
        history = self.messages[chat.id]
        message = ChatMessage(
            chat_id=chat.id,
            message_id=len(history) + 1,
            sender_id=sender_id,
            from_bot=sender_id == self.bot.id,
            date=now(),
            text=text,
            parse_mode=parse_mode,
            shown=shown,
            reply_markup=reply_markup,
            thread_id=thread_id,
            entities=entities or [],
            extra=extra or {},
            document=document,
            caption=caption,
        )
        history.append(message)
        return message

    def message(self, chat_id: int, message_id: int) -> ChatMessage | None:
        history = self.messages.get(chat_id, [])
        return history[message_id - 1] if 0 < message_id <= len(history) else None

    def enqueue(self, kind: str, payload: JSON) -> None:
        """Queue an update for getUpdates; the caller notifies `changed`."""
        self.updates.append({"update_id": self.next_update_id, kind: payload})
        self.next_update_id += 1

    def confirm(self, offset: int | None) -> None:
        """getUpdates' offset: forget the updates before it; a negative one keeps the last few."""
        if offset is None:
            return
        if offset < 0:
            self.updates = self.updates[offset:]
        else:
            self.updates = [update for update in self.updates if update["update_id"] >= offset]

    def status_of(self, chat: Chat, user_id: int) -> MemberStatus:
        if chat.type == "private":
            return "member" if user_id in (chat.id, self.bot.id) else "left"
        status = chat.members.get(user_id, "left")
        if user_id == self.bot.id and chat.kicked and status not in ("left", "kicked"):
            return "kicked"
        return status

    def bot_json(self) -> JSON:
        """The bot as getMe describes it."""
        return self.bot.to_json() | {
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": self.inline,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def message_json(self, message: ChatMessage) -> JSON:
        chat = self.chats[message.chat_id]
        out: JSON = {"message_id": message.message_id, "date": message.date}
        if chat.type == "channel" and message.from_bot:
            out["sender_chat"] = chat.to_json()  # channel posts are signed by the channel
        else:
            out["from"] = self.users[message.sender_id].to_json()
        out["chat"] = chat.to_json()
        if message.thread_id is not None:
            out["message_thread_id"] = message.thread_id
            out["is_topic_message"] = True
        if message.edit_date is not None:
            out["edit_date"] = message.edit_date
        if message.text is not None:
            out["text"] = message.shown  # Telegram returns the text without its markup
        if message.entities:
            out["entities"] = message.entities
        if message.document is not None:
            out["document"] = message.document.document_json()
        # Telegram echoes inline keyboards only; reply keyboards stay with the client.
        if message.reply_markup and "inline_keyboard" in message.reply_markup:
            out["reply_markup"] = message.reply_markup
        return out | message.extra

    def member_json(self, chat: Chat, user: User, status: MemberStatus) -> JSON:
        """A ChatMember with the fields Telegram sends for this status."""
        out: JSON = {"status": status, "user": user.to_json()}
        if status == "creator":
            out["is_anonymous"] = False
        elif status == "administrator":
            out |= _ADMIN_RIGHTS
            if chat.type == "channel":
                out |= {"can_post_messages": True, "can_edit_messages": True}
            else:
                out |= {"can_pin_messages": True, "can_manage_topics": chat.is_forum}
        elif status == "kicked":
            out["until_date"] = 0
        return out

    def chat_full_json(self, chat: Chat) -> JSON:
        """getChat's ChatFullInfo."""
        gifts = ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription")
        return chat.to_json() | {
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": dict.fromkeys(gifts, True) | {"gifts_from_channels": False},
        }
