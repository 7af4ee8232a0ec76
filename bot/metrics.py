"""Prometheus metrics, served on PAPERBOY_METRICS_PORT when it is set (off by default), on
the address PAPERBOY_METRICS_HOST (this machine only by default: the source labels name the
pages read, and nothing here asks who is asking)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

MESSAGES_SENT = Counter("paperboy_messages_sent", "Digest messages Telegram accepted")
THROTTLED = Counter("paperboy_telegram_429", "429 Too Many Requests answers from Telegram")
SEND_SECONDS = Histogram(
    "paperboy_send_seconds",
    "Time for Telegram to accept one digest message",
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
PAPERS_INGESTED = Counter("paperboy_papers_ingested", "New papers stored, per source", ["source"])
DIGEST_RUN_SECONDS = Histogram(
    "paperboy_digest_run_seconds",
    "Duration of a scheduled digest run",
    buckets=(1, 10, 60, 300, 900, 3600),
)
ACTIVE_SUBSCRIBERS = Gauge("paperboy_active_subscribers", "Subscribers that receive digests")


def serve(port: int, host: str = "127.0.0.1") -> None:
    """Serve /metrics on the port of the address, from a thread of its own."""
    start_http_server(port, addr=host)
