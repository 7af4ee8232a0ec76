"""Small pure helpers shared by the parsers: decoding, whitespace, arXiv ids and links."""

from __future__ import annotations

import re

from bot.sources.errors import ParseError

# Control characters other than tab, newline and carriage return never occur in a real page.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# New-style ids (2401.01234, 0704.0001) and old-style ones (hep-th/9901001), version optional.
_ARXIV_ID = re.compile(
    r"(?:^|[/:\s])(?P<id>\d{4}\.\d{4,5}|[a-z][a-z.-]*[a-z](?:\.[A-Z]{2})?/\d{7})(?:v\d+)?$"
)
_URL = re.compile(r"https?://[^\s<>\"'{}|\\^`]+")
_CODE_HOSTS = ("github.com", "gitlab.com", "bitbucket.org", "huggingface.co", "codeberg.org")
_PAPER_HOSTS = ("arxiv.org", "doi.org")


def decode_text(data: bytes) -> str:
    """Decode a page as UTF-8 text, refusing binary content."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(f"not UTF-8 text (invalid byte at offset {exc.start})") from None
    if _CONTROL.search(text):
        raise ParseError("binary content (control characters), not a page")
    if not text.strip():
        raise ParseError("empty page")
    return text


def squash(text: str) -> str:
    """Collapse runs of whitespace (newlines included) into single spaces."""
    return " ".join(text.split())


def arxiv_id(raw: str) -> str | None:
    """The versionless arXiv id in an id, URL or OAI identifier, or None if it holds none."""
    candidate = raw.strip().removesuffix(".pdf")
    if candidate.lower().startswith("arxiv:"):
        candidate = candidate[len("arxiv:") :]
    match = _ARXIV_ID.search(candidate)
    return match.group("id") if match else None


def _clean_url(url: str) -> str:
    # Abstracts glue sentence punctuation and LaTeX leftovers to their URLs.
    return url.rstrip(".,;:!?)]*~")


def links_in(text: str) -> tuple[str | None, str | None]:
    """The first code-repository URL and the first project-page URL mentioned in a text."""
    code: str | None = None
    project: str | None = None
    for raw in _URL.findall(text):
        url = _clean_url(raw)
        host = url.split("/")[2].lower().removeprefix("www.")
        if host in _PAPER_HOSTS or host.endswith(".arxiv.org"):
            continue
        if host in _CODE_HOSTS:
            code = code or url
        else:
            project = project or url
    return code, project
