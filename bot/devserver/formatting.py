"""Telegram's HTML parse mode: which markup it accepts, and the text a message then shows.

    html_to_text('<b>Hi</b> &amp; bye')  ->  'Hi & bye'
    html_to_text('a < b')                ->  EntityParseError: Unescaped "<" at byte offset 2

Only Telegram's tags, properly nested and closed; only the entities &lt; &gt; &amp; &quot;
and numeric ones. A stray "&" is refused too: stricter than Telegram, which keeps an "&"
that starts no entity, because a bot that leaves one unescaped will sooner or later send
one that does.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Telegram's tags, each with the attribute it requires (name, required value or None).
_TAGS: dict[str, tuple[str, str | None] | None] = {
    "b": None,
    "strong": None,
    "i": None,
    "em": None,
    "u": None,
    "ins": None,
    "s": None,
    "strike": None,
    "del": None,
    "span": ("class", "tg-spoiler"),
    "tg-spoiler": None,
    "a": ("href", None),
    "code": None,
    "pre": None,
    "blockquote": None,
    "tg-emoji": ("emoji-id", None),
}
_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
# Checked before parsing: html.parser silently drops both an "&" that ends the text
# without a ";" and a "</>".
_STRAY = re.compile(r"&(?![a-zA-Z][a-zA-Z0-9]*;|#[0-9]+;|#[xX][0-9a-fA-F]+;)|</>")


class EntityParseError(ValueError):
    """Why Telegram would answer "can't parse entities"."""


def html_to_text(markup: str) -> str:
    """The text `markup` shows once sent with parse_mode HTML: tags gone, entities decoded."""
    stray = _STRAY.search(markup)
    if stray:
        offset = _byte_offset(markup, stray.start())
        raise EntityParseError(f'Unescaped "{stray.group()}" at byte offset {offset}')
    parser = _Checker(markup)
    parser.feed(markup)
    parser.close()
    if parser.open_tags:
        raise EntityParseError(
            f'Can\'t find end tag corresponding to start tag "{parser.open_tags[-1]}"'
        )
    return "".join(parser.parts)


def _byte_offset(text: str, index: int) -> int:
    # Telegram reports positions in UTF-8 bytes.
    return len(text[:index].encode("utf-8"))


class _Checker(HTMLParser):
    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=False)  # so that each entity reaches a handler
        self.markup = markup
        self.line_starts = [0]
        self.line_starts += [i + 1 for i, char in enumerate(markup) if char == "\n"]
        self.open_tags: list[str] = []
        self.parts: list[str] = []

    def at(self, extra: int = 0) -> str:
        """Where the construct being handled starts (plus `extra` characters)."""
        line, column = self.getpos()
        index = self.line_starts[line - 1] + column + extra
        return f"at byte offset {_byte_offset(self.markup, index)}"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _TAGS:
            raise EntityParseError(f'Unsupported start tag "{tag}" {self.at()}')
        required = _TAGS[tag]
        if required is not None:
            name, value = required
            given = dict(attrs).get(name)
            if given is None or (value is not None and given != value):
                wanted = f'{name}="{value}"' if value else f'a "{name}" attribute'
                raise EntityParseError(f'Tag "{tag}" must have {wanted} {self.at()}')
        self.open_tags.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open_tags:
            raise EntityParseError(f'Unexpected end tag "{tag}" {self.at()}')
        expected = self.open_tags.pop()
        if tag != expected:
            raise EntityParseError(
                f'Unmatched end tag {self.at()}, expected "</{expected}>", found "</{tag}>"'
            )

    def handle_data(self, data: str) -> None:
        # html.parser passes a "<" that starts no tag on as text.
        if "<" in data:
            raise EntityParseError(f'Unescaped "<" {self.at(data.index("<"))}')
        self.parts.append(data)

    def handle_entityref(self, name: str) -> None:
        if name not in _ENTITIES:
            raise EntityParseError(f'Unsupported HTML entity "&{name};" {self.at()}')
        self.parts.append(_ENTITIES[name])

    def handle_charref(self, name: str) -> None:
        try:
            self.parts.append(chr(int(name[1:], 16) if name[:1] in "xX" else int(name)))
        except (ValueError, OverflowError):
            raise EntityParseError(f'Invalid HTML entity "&#{name};" {self.at()}') from None

    def handle_comment(self, data: str) -> None:
        raise EntityParseError(f"Unsupported comment {self.at()}")

    def handle_decl(self, decl: str) -> None:
        raise EntityParseError(f"Unsupported declaration {self.at()}")

    def handle_pi(self, data: str) -> None:
        raise EntityParseError(f"Unsupported processing instruction {self.at()}")

    def unknown_decl(self, data: str) -> None:
        raise EntityParseError(f"Unsupported declaration {self.at()}")
