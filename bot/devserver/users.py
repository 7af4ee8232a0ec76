"""Playing Telegram's users: FakeBotApi's helpers that enqueue the updates Telegram would send
when a user writes, edits, sends a sticker, photo or file, presses a button, blocks the bot or
upgrades a group."""

from __future__ import annotations

import itertools
import mimetypes
import re

from bot.devserver.errors import ContentError
from bot.devserver.objects import (
    JSON,
    Chat,
    InlineAnswer,
    InlineQuery,
    MemberStatus,
    StoredFile,
    User,
)
from bot.devserver.validation import message_text
from bot.devserver.world import World, now

MAX_INLINE_QUERY = 256  # characters Telegram sends of what the user typed

# A command at the start of a message, as Telegram marks it: "/start" or "/start@somebot".
_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?=\s|$)")


class PlayingUsers:
    """Mixed into FakeBotApi. Users and chats must exist (add_user, add_chat); a user writing
    in a group becomes a member of it."""

    bot: User
    _world: World
    _ids: itertools.count[int]  # callback query and file ids

    def user_sends(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: int | None = None,
        thread_id: int | None = None,
        reply_to: int | None = None,
    ) -> int:
        """`user_id` writes `text` in `chat_id` (default: their private chat), in forum topic
        `thread_id` if given, as a reply to message `reply_to` if given; returns the
        message_id. A leading /command gets its bot_command entity, as Telegram adds it."""
        extra: JSON | None = None
        if reply_to is not None:
            with self._world.changed:
                chat, _ = self._user_in(user_id, chat_id)
                replied = self._world.message(chat.id, reply_to)
                if replied is None:
                    raise LookupError(f"no message {reply_to} in chat {chat.id}")
                extra = {"reply_to_message": self._world.message_json(replied)}
        return self._user_message(
            user_id, chat_id, thread_id, text=text, entities=_command_entities(text), extra=extra
        )

    def user_sends_sticker(
        self, user_id: int, *, chat_id: int | None = None, emoji: str = "👍"
    ) -> int:
        """`user_id` sends a sticker; returns the message_id."""
        file_id = f"sticker-{next(self._ids)}"
        sticker = {
            "file_id": file_id,
            "file_unique_id": file_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return self._user_message(
            user_id, chat_id, None, shown=f"[sticker {emoji}]", extra={"sticker": sticker}
        )

    def user_sends_photo(
        self, user_id: int, *, chat_id: int | None = None, caption: str | None = None
    ) -> int:
        """`user_id` sends a photo (in three sizes), with `caption`; returns the message_id."""
        file_id = f"photo-{next(self._ids)}"
        sizes = [
            {
                "file_id": f"{file_id}-{w}",
                "file_unique_id": f"{file_id}-{w}",
                "width": w,
                "height": w * 3 // 4,
            }
            for w in (90, 320, 1280)
        ]
        extra: JSON = {"photo": sizes} | ({"caption": caption} if caption else {})
        shown = f"[photo] {caption}" if caption else "[photo]"
        return self._user_message(user_id, chat_id, None, shown=shown, extra=extra)

    def user_sends_document(
        self,
        user_id: int,
        file_name: str,
        data: bytes,
        *,
        mime_type: str | None = None,
        caption: str | None = None,
        chat_id: int | None = None,
        thread_id: int | None = None,
    ) -> int:
        """`user_id` sends a file (a Document) named `file_name` holding `data`, with `caption`;
        returns the message_id. The MIME type is guessed from the name unless given, as
        Telegram's apps do; the bot gets the file's bytes with getFile (up to 20 MB)."""
        if mime_type is None:
            mime_type = mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        with self._world.changed:
            document = self._world.store_file(file_name, mime_type, data)
        label = f"[document {file_name}]"
        return self._user_message(
            user_id,
            chat_id,
            thread_id,
            shown=f"{label} {caption}" if caption else label,
            extra={"caption": caption} if caption else None,
            document=document,
        )

    def user_edits(
        self, user_id: int, message_id: int, text: str, *, chat_id: int | None = None
    ) -> None:
        """`user_id` edits their message: an edited_message update."""
        with self._world.changed:
            chat, user = self._user_in(user_id, chat_id)
            message = self._world.message(chat.id, message_id)
            if message is None or message.sender_id != user.id or message.text is None:
                raise LookupError(
                    f"{user.first_name} has no text message {message_id} in {chat.id}"
                )
            message.edit(text, None, text, None, now())
            message.entities = _command_entities(text)
            self._enqueue("edited_message", self._world.message_json(message))

    def user_presses(
        self, user_id: int, message_id: int, button: str, *, chat_id: int | None = None
    ) -> str:
        """`user_id` presses the inline button labelled `button` under the bot's message:
        a callback_query update carrying the message and the button's data. Returns the
        query's id, which the bot must answer once."""
        with self._world.changed:
            # Any reader of a channel may press the buttons under its posts.
            chat, user = self._user_in(user_id, chat_id, reading=True)
            message = self._world.message(chat.id, message_id)
            buttons = message.buttons() if message is not None and message.from_bot else []
            pressed = [b for b in buttons if b["text"] == button and "callback_data" in b]
            if message is None or not pressed:
                labels = [b["text"] for b in buttons]
                raise LookupError(
                    f"no callback button {button!r} under message {message_id}: {labels}"
                )
            query_id = str(next(self._ids))
            self._world.open_queries.add(query_id)
            query = {
                "id": query_id,
                "from": user.to_json(),
                "message": self._world.message_json(message),
                "chat_instance": str(chat.id),
                "data": pressed[0]["callback_data"],
            }
            self._enqueue("callback_query", query)
            return query_id

    def user_types_inline(
        self, user_id: int, query: str, *, offset: str = "", chat_type: str | None = "sender"
    ) -> str:
        """`user_id` types "@bot `query`" in a chat of `chat_type` ("sender": their private
        chat with the bot; "private", "group", "supergroup", "channel"; None: a secret chat),
        or scrolls to the results from `offset`: an inline_query update. Returns the query's
        id, which the bot answers once (read it back with `inline_answer`)."""
        with self._world.changed:
            if not self._world.inline:
                raise ValueError("inline mode is off for this bot (BotFather's /setinline)")
            user = self._world.users[user_id]
            found = InlineQuery(
                str(next(self._ids)), user.id, query[:MAX_INLINE_QUERY], offset, chat_type
            )
            self._world.inline_queries[found.id] = found
            update: JSON = {
                "id": found.id,
                "from": user.to_json(),
                "query": found.query,
                "offset": found.offset,
            }
            if chat_type is not None:
                update["chat_type"] = chat_type
            self._enqueue("inline_query", update)
            return found.id

    def user_chooses(
        self, user_id: int, answer: InlineAnswer, result_id: str, *, chat_id: int | None = None
    ) -> int:
        """`user_id` taps result `result_id` of an inline answer: its message goes into
        `chat_id` (default: their private chat with the bot) from the user, "via" the bot,
        as the app sends it. The bot gets the message when it is in that chat. Returns the
        message_id."""
        result = answer.result(result_id)
        content = result.get("input_message_content") or {}
        text = content.get("message_text")
        if not isinstance(text, str):
            raise ValueError(f"result {result_id!r} sends no text: not simulated")
        try:
            shown = message_text(text, content.get("parse_mode"))
        except ContentError as error:  # answerInlineQuery checked it: a stand-in bug
            raise AssertionError(error.description) from None
        with self._world.changed:
            chat, user = self._user_in(user_id, chat_id)
            message = self._world.post(
                chat,
                user.id,
                text=text,
                parse_mode=content.get("parse_mode"),
                shown=shown,
                reply_markup=result.get("reply_markup"),
                extra={"via_bot": self.bot.to_json()},
            )
            if self._world.status_of(chat, self.bot.id) in ("member", "administrator", "creator"):
                self._enqueue("message", self._world.message_json(message))
            return message.message_id

    def change_bot_status(self, chat_id: int, status: MemberStatus, *, by: int) -> None:
        """User `by` changes the bot's membership (a my_chat_member update): "kicked" in a
        private chat blocks the bot, "member" unblocks it; "left"/"kicked" in a group removes
        the bot, "member"/"administrator" adds it back."""
        with self._world.changed:
            chat, user = self._user_in(by, chat_id)
            old = self._world.status_of(chat, self.bot.id)
            if chat.type == "private":
                chat.blocked = status == "kicked"
            else:
                chat.kicked = status in ("left", "kicked")
                chat.members[self.bot.id] = status
            update = {
                "chat": chat.to_json(),
                "from": user.to_json(),
                "date": now(),
                "old_chat_member": self._world.member_json(chat, self.bot, old),
                "new_chat_member": self._world.member_json(chat, self.bot, status),
            }
            self._enqueue("my_chat_member", update)

    def migrate_group(self, chat_id: int, new_chat_id: int, *, by: int) -> Chat:
        """User `by` upgrades a group to a supergroup: the group's message with
        migrate_to_chat_id, then the supergroup's with migrate_from_chat_id. Sending to the
        old id then answers 400 with migrate_to_chat_id."""
        with self._world.changed:
            group, user = self._user_in(by, chat_id)
            if group.type != "group":
                raise ValueError(f"chat {chat_id} is not a basic group")
            supergroup = Chat(
                new_chat_id, "supergroup", title=group.title, members=dict(group.members)
            )
            self._world.add_chat(supergroup)
            group.migrated_to = new_chat_id
            announcements = [
                (
                    group,
                    f"[upgraded to supergroup {new_chat_id}]",
                    {"migrate_to_chat_id": new_chat_id},
                ),
                (supergroup, f"[upgraded from group {chat_id}]", {"migrate_from_chat_id": chat_id}),
            ]
            for chat, shown, extra in announcements:
                message = self._world.post(chat, user.id, shown=shown, extra=extra)
                self._enqueue("message", self._world.message_json(message))
            return supergroup

    def _user_message(
        self,
        user_id: int,
        chat_id: int | None,
        thread_id: int | None,
        *,
        text: str | None = None,
        shown: str | None = None,
        entities: list[JSON] | None = None,
        extra: JSON | None = None,
        document: StoredFile | None = None,
    ) -> int:
        with self._world.changed:
            chat, user = self._user_in(user_id, chat_id)
            if thread_id is not None and not chat.is_forum:
                raise ValueError(f"chat {chat.id} is not a forum: no topics")
            message = self._world.post(
                chat,
                user.id,
                text=text,
                shown=shown if shown is not None else text or "",
                thread_id=thread_id,
                entities=entities,
                extra=extra,
                document=document,
                caption=(extra or {}).get("caption"),
            )
            self._enqueue("message", self._world.message_json(message))
            return message.message_id

    def _user_in(
        self, user_id: int, chat_id: int | None, *, reading: bool = False
    ) -> tuple[Chat, User]:
        user = self._world.users[user_id]
        chat = self._world.chats[user_id if chat_id is None else chat_id]
        if chat.type == "channel":
            if reading:
                return chat, user
            raise ValueError("users do not post in channels here")
        if chat.type != "private":
            chat.members.setdefault(user_id, "member")  # who writes in a group is in it
        return chat, user

    def _enqueue(self, kind: str, payload: JSON) -> None:
        self._world.enqueue(kind, payload)
        self._world.changed.notify_all()


def _command_entities(text: str) -> list[JSON]:
    match = _COMMAND.match(text)
    if match is None:
        return []
    length = len(match.group().encode("utf-16-le")) // 2  # Telegram counts UTF-16 units
    return [{"type": "bot_command", "offset": 0, "length": length}]
