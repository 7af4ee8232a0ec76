"""Placeholder: being written."""

from storage.records import ParsedPage

NAME = "hf_html"


def sniff(text: str) -> bool:
    return False


def parse(text: str) -> ParsedPage:
    raise NotImplementedError
