"""A local stand-in for the Telegram Bot API, for tests and demos.

The real python-telegram-bot stack talks HTTP to it (`Bot(token, base_url=api.base_url)`);
it answers like Telegram, refusing what Telegram refuses (unknown chats, blocked users, bad
HTML, oversized texts and button data, flood limits), checks every call against the official
Bot API description, records what the bot did (the files it sent too), plays users sending it
updates, files and inline queries, and serves those files for download as
api.telegram.org/file/bot does.

Modules: `api` (FakeBotApi), `users` (its helpers playing users), `server` (HTTP),
`methods` (the Bot API methods), `world` and `objects` (users, chats, messages),
`validation` and `formatting` (message rules, HTML), `limits` (flood limits), `spec` (the
API description), `errors` (refusals).
"""

from bot.devserver.api import Call, FakeBotApi, Rejection, Violation
from bot.devserver.limits import Limit, RateLimits
from bot.devserver.objects import (
    Chat,
    ChatMessage,
    Edit,
    InlineAnswer,
    InlineQuery,
    QueryAnswer,
    StoredFile,
    User,
)

__all__ = [
    "Call",
    "Chat",
    "ChatMessage",
    "Edit",
    "FakeBotApi",
    "InlineAnswer",
    "InlineQuery",
    "Limit",
    "QueryAnswer",
    "RateLimits",
    "Rejection",
    "StoredFile",
    "User",
    "Violation",
]
