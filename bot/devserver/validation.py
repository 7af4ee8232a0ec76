"""Telegram's rules for what a message may say: its text, its parse mode and its buttons."""

from __future__ import annotations

import json
import re
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


# Inline mode: answerInlineQuery's limits.
MAX_INLINE_RESULTS = 50
MAX_RESULT_ID = 64  # bytes
MAX_NEXT_OFFSET = 64  # bytes
RESULT_TYPES = frozenset(
    {
        "article",
        "audio",
        "contact",
        "document",
        "game",
        "gif",
        "location",
        "mpeg4_gif",
        "photo",
        "sticker",
        "venue",
        "video",
        "voice",
    }
)
_START_PARAMETER = re.compile(r"[A-Za-z0-9_-]{1,64}")


def inline_results(raw: object) -> list[dict[str, Any]]:
    """answerInlineQuery's results decoded and checked, or a ContentError as Telegram words
    it: at most 50, ids of 1-64 bytes and unique, a known type; an article needs a title and
    a message to send, whose text follows the rules of any message."""
    results = _decode(raw)
    if not isinstance(results, list):
        raise ContentError("can't parse inline query results JSON object")
    if len(results) > MAX_INLINE_RESULTS:
        raise ContentError("RESULTS_TOO_MUCH")
    seen: set[str] = set()
    for result in results:
        if not isinstance(result, dict):
            raise ContentError("can't parse inline query result JSON object")
        result_id = result.get("id")
        if not isinstance(result_id, str) or not 1 <= len(result_id.encode()) <= MAX_RESULT_ID:
            raise ContentError("RESULT_ID_INVALID")
        if result_id in seen:
            raise ContentError("RESULT_ID_DUPLICATE")
        seen.add(result_id)
        if result.get("type") not in RESULT_TYPES:
            raise ContentError("RESULT_TYPE_INVALID")
        if result["type"] == "article":
            _check_article(result)
        if "reply_markup" in result:
            reply_markup(result["reply_markup"], inline_only=True)
    return results


def _check_article(result: dict[str, Any]) -> None:
    title = result.get("title")
    if not isinstance(title, str) or not title.strip():
        raise ContentError("RESULT_TITLE_EMPTY")
    content = result.get("input_message_content")
    if not isinstance(content, dict):
        raise ContentError("can't parse InputMessageContent: input_message_content is required")
    if "message_text" in content:
        text = content["message_text"]
        if not isinstance(text, str):
            raise ContentError("MESSAGE_EMPTY")
        try:
            message_text(text, content.get("parse_mode"))
        except ContentError as error:
            # Telegram names an empty text after its own error code here.
            if error.description.endswith("message text is empty"):
                raise ContentError("MESSAGE_EMPTY") from None
            raise
    url = result.get("url")
    if url is not None and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
        raise ContentError("RESULT_URL_INVALID")


def next_offset(value: str | None) -> str:
    if value is not None and len(value.encode()) > MAX_NEXT_OFFSET:
        raise ContentError("NEXT_OFFSET_INVALID")
    return value or ""


def results_button(raw: object) -> dict[str, Any] | None:
    """answerInlineQuery's button: a text and exactly one of web_app and start_parameter."""
    if raw is None:
        return None
    button = _decode(raw)
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise ContentError("can't parse InlineQueryResultsButton JSON object")
    actions = {"web_app", "start_parameter"} & button.keys()
    if len(actions) != 1:
        raise ContentError("can't parse InlineQueryResultsButton: use exactly one action")
    start = button.get("start_parameter")
    if "start_parameter" in button and not (
        isinstance(start, str) and _START_PARAMETER.fullmatch(start)
    ):
        raise ContentError("START_PARAM_INVALID")
    return button
