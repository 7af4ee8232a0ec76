"""paperboy: a self-hosted Telegram bot that delivers new research papers."""

__version__ = "0.1.0"
