"""Telegram's rules for what a message may say: its text, its parse mode and its buttons."""

from __future__ import annotations

import json
from typing import Any

from bot.devserver.errors import ContentError
from bot.devserver.formatting import EntityParseError, html_to_text

MAX_TEXT = 4096  # characters, counted after entities parsing
MAX_CAPTION = 1024  # likewise
MAX_CALLBACK_DATA = 64  # bytes
PARSE_MODES = ("html", "markdown", "markdownv2")
# The fields of an InlineKeyboardButton that say what it does: exactly one per button.
BUTTON_ACTIONS = frozenset(
    {
        "url",
        "callback_data",
        "web_app",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
    }
)
_OTHER_KEYBOARDS = frozenset({"keyboard", "remove_keyboard", "force_reply"})


def message_text(text: str, parse_mode: str | None) -> str:
    """The text the message shows (tags removed, entities decoded, trimmed), or a ContentError.

    Markdown modes are not parsed: their markup counts towards the length limit.
    """
    shown = _shown(text, parse_mode)
    if not shown:
        raise ContentError("message text is empty")
    if len(shown) > MAX_TEXT:
        raise ContentError("message is too long")
    return shown


def caption_text(caption: str, parse_mode: str | None) -> str:
    """A media caption as it shows, parsed like a message text; it may be empty."""
    shown = _shown(caption, parse_mode)
    if len(shown) > MAX_CAPTION:
        raise ContentError("message caption is too long")
    return shown


def _shown(text: str, parse_mode: str | None) -> str:
    mode = (parse_mode or "").lower()
    if mode and mode not in PARSE_MODES:
        raise ContentError("unsupported parse_mode")
    shown = text
    if mode == "html":
        try:
            shown = html_to_text(text)
        except EntityParseError as error:
            raise ContentError(f"can't parse entities: {error}") from None
    return shown.strip()  # Telegram trims messages


def reply_markup(raw: object, *, inline_only: bool) -> dict[str, Any] | None:
    """The reply_markup parameter decoded and checked (None when absent), or a ContentError.

    Edits take only inline keyboards; sending also takes reply keyboards, their removal and
    force_reply, which are not checked further.
    """
    if raw is None:
        return None
    what = "inline keyboard" if inline_only else "reply keyboard"
    markup = _decode(raw)
    if not isinstance(markup, dict):
        raise ContentError(f"can't parse {what} markup JSON object")
    if "inline_keyboard" in markup:
        _check_inline_keyboard(markup["inline_keyboard"])
    elif inline_only or not markup.keys() & _OTHER_KEYBOARDS:
        raise ContentError(f"can't parse {what} markup JSON object")
    return markup


def _decode(raw: object) -> object:
    if not isinstance(raw, str):
        return raw  # a JSON body carries the object itself
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _check_inline_keyboard(rows: object) -> None:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise ContentError('field "inline_keyboard" must be an Array of Arrays of buttons')
    for row in rows:
        for button in row:
            _check_button(button)


def _check_button(button: object) -> None:
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise ContentError("can't parse inline keyboard button: text is required")
    actions = BUTTON_ACTIONS & button.keys()
    if not actions:
        raise ContentError("text buttons are unallowed in the inline keyboard")
    if len(actions) > 1:
        raise ContentError(f"can't parse inline keyboard button: {sorted(actions)} together")
    data = button.get("callback_data")
    if "callback_data" in button and not (
        isinstance(data, str) and 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA
    ):
        raise ContentError("BUTTON_DATA_INVALID")
    url = button.get("url")
    if "url" in button and not (
        isinstance(url, str) and url.startswith(("http://", "https://", "tg://"))
    ):
        raise ContentError("BUTTON_URL_INVALID")
