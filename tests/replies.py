"""The chat commands' replies as the user reads them: a service function's data, made a
message by render.py, as the handlers do."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bot import render, service
from bot.replies import Chat


def start(session: Session, chat: Chat, now: datetime) -> str:
    return render.welcome(service.start(session, chat, now))


def subscribe(
    session: Session,
    chat: Chat,
    text: str,
    now: datetime,
    known: service.Candidates | None = None,
) -> str:
    return render.subscribed(service.subscribe(session, chat, text, now, known))


def follow(session: Session, chat: Chat, text: str, now: datetime) -> str:
    return render.subscribed(service.follow(session, chat, text, now))


def unsubscribe(session: Session, chat: Chat, keyword: str) -> str:
    return render.unsubscribed(service.unsubscribe(session, chat, keyword))


def set_time(session: Session, chat: Chat, text: str, now: datetime) -> str:
    return render.setting(service.set_time(session, chat, text, now))


def set_schedule(session: Session, chat: Chat, text: str, now: datetime) -> str:
    return render.setting(service.set_schedule(session, chat, text, now))


def set_timezone(session: Session, chat: Chat, text: str, now: datetime) -> str:
    return render.setting(service.set_timezone(session, chat, text, now))


def set_paused(session: Session, chat: Chat, paused: bool, now: datetime) -> str:
    return render.setting(service.set_paused(session, chat, paused, now))


def set_notify_empty(session: Session, chat: Chat, text: str, now: datetime) -> str:
    return render.setting(service.set_notify_empty(session, chat, text, now))


def set_recommend(session: Session, chat: Chat, text: str, now: datetime) -> str:
    return render.setting(service.set_recommend(session, chat, text, now))


def import_document(session: Session, chat: Chat, text: str, now: datetime) -> str:
    return render.imported(service.import_document(session, chat, text, now))


def forget(session: Session, chat: Chat) -> str:
    return render.forgotten(chat, service.forget(session, chat))


def nothing_to_send(session: Session, chat: Chat) -> str:
    return render.nothing_to_send(chat, service.nothing_to_send(session, chat))
