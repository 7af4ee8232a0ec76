"""Placeholder: being written."""

from storage.records import ParsedPage

NAME = "arxiv_feed"


def sniff(text: str) -> bool:
    return False


def parse(text: str) -> ParsedPage:
    raise NotImplementedError
