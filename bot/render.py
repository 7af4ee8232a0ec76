"""Chat messages as Telegram HTML: papers, lists, and splitting under the length limit.

Pure. Everything that came from a page is escaped; only the tags written here reach
Telegram, so a title like "<b>Attention</b> & more" shows as typed.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from typing import TypeVar

from bot.search import SearchOutcome, render_marks
from storage.records import Paper

# Telegram refuses longer messages (counted after entity parsing; the markup we add only
# makes the raw text longer, so checking the raw text is safe).
MESSAGE_LIMIT = 4096
EXCERPT = 300
TITLE_LIMIT = 300
# Links longer than this (a page can hold anything) are left out rather than risk the limit.
URL_LIMIT = 500

T = TypeVar("T")


def cut(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word boundary with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ")
    if space > limit // 2:
        head = head[:space]
    return head.rstrip(" ,;:.-") + "…"


def link(url: str, label: str) -> str:
    return f'<a href="{escape(url, quote=True)}">{escape(label)}</a>'


def _usable(url: str | None) -> str | None:
    return url if url and len(url) <= URL_LIMIT else None


def paper_url(paper: Paper) -> str | None:
    """Where a paper's title links to: its arXiv page, else its code or project page."""
    return paper.abs_url or _usable(paper.code_url) or _usable(paper.project_url)


def linked_title(title: str, url: str | None) -> str:
    bold = f"<b>{escape(cut(title, TITLE_LIMIT))}</b>"
    usable = _usable(url)
    return f'<a href="{escape(usable, quote=True)}">{bold}</a>' if usable else bold


def paper_links(paper: Paper) -> str:
    links = [
        link(url, label)
        for url, label in (
            (paper.abs_url, "arXiv"),
            (paper.pdf_url, "PDF"),
            (_usable(paper.code_url), "code"),
            (_usable(paper.project_url), "project"),
        )
        if url
    ]
    return " · ".join(links)


def paper_block(paper: Paper, why: str | None = None, excerpt: int = EXCERPT) -> str:
    """One paper: bold linked title, why it matched, an abstract excerpt, its links."""
    lines = [linked_title(paper.title, paper_url(paper))]
    if why:
        lines.append(f"<i>{escape(why)}</i>")
    if paper.abstract:
        lines.append(escape(cut(paper.abstract, excerpt)))
    links = paper_links(paper)
    if links:
        lines.append(links)
    return "\n".join(lines)


def plural(count: int, noun: str) -> str:
    """ "1 paper", "2 papers"."""
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def pack(
    items: Iterable[tuple[str, T]],
    header: str = "",
    separator: str = "\n\n",
    limit: int = MESSAGE_LIMIT,
) -> list[tuple[str, list[T]]]:
    """Blocks joined into as few messages as fit under `limit`, never splitting a block;
    each message comes with the payloads of the blocks it carries.

    A block is complete HTML (a paper, a list item) and far shorter than the limit by
    construction, so no message ends inside a tag.
    """
    messages: list[tuple[str, list[T]]] = []
    text, payloads = header, list[T]()
    for block, payload in items:
        if len(block) > limit:
            raise ValueError(f"a block of {len(block)} characters cannot fit in one message")
        joined = f"{text}{separator}{block}" if text else block
        if len(joined) > limit:
            messages.append((text, payloads))
            joined, payloads = block, []
        text = joined
        payloads.append(payload)
    if text:
        messages.append((text, payloads))
    return messages


def split_messages(
    blocks: Iterable[str], header: str = "", separator: str = "\n\n", limit: int = MESSAGE_LIMIT
) -> list[str]:
    return [text for text, _ in pack(((block, None) for block in blocks), header, separator, limit)]


def search_page(outcome: SearchOutcome) -> str:
    """One page of search results, numbered, with the matched words in bold."""
    if not outcome.results and outcome.message and not outcome.matches:
        return escape(outcome.message)
    lines = []
    if outcome.message:
        lines.append(f"<i>{escape(outcome.message)}</i>")
    if not outcome.results:
        lines.append(f"No papers match “{escape(cut(outcome.query, 100))}”.")
        return "\n".join(lines)
    total = f"{outcome.matches}+" if outcome.capped else str(outcome.matches)
    last = outcome.offset + len(outcome.results)
    lines.append(f"Papers {outcome.offset + 1} to {last} of {total}:")
    for number, result in enumerate(outcome.results, start=outcome.offset + 1):
        when = f" ({result.date:%Y-%m-%d})" if result.date else ""
        snippet = render_marks(escape(cut(result.snippet, EXCERPT)), "<b>", "</b>")
        lines.append(f"\n{number}. {linked_title(result.title, result.url)}{when}\n{snippet}")
    return "\n".join(lines)


def preformatted(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """A text shown verbatim in <pre> blocks, split between lines to fit each message."""
    wrap = len("<pre></pre>")
    lines = (escape(line, quote=False) for line in text.splitlines())
    return [
        f"<pre>{chunk}</pre>" for chunk in split_messages(lines, separator="\n", limit=limit - wrap)
    ]
