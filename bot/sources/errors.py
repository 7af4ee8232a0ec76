"""The one error every parser raises for input it cannot read."""


class ParseError(ValueError):
    """The page is not in a known format, is malformed, or holds no papers."""
