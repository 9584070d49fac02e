"""A request or task id on every log line, so one event can be followed from the web process
that stored it to the worker that processed it.

The web side takes a sane `X-Request-ID` from the proxy (or makes one) and answers it back; the
worker side takes the Celery task id. `ContextFilter` puts whichever is set on each log record."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

current_request_id: ContextVar[str] = ContextVar("request_id", default="")
current_task_id: ContextVar[str] = ContextVar("task_id", default="")

HEADER = "X-Request-ID"
SANE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if value := current_request_id.get():
            record.request_id = value
        if value := current_task_id.get():
            record.task_id = value
        return True


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get(HEADER, "")
        token = current_request_id.set(given if SANE_ID.match(given) else uuid.uuid4().hex)
        try:
            response = self.get_response(request)
            response[HEADER] = current_request_id.get()
            return response
        finally:
            current_request_id.reset(token)


def task_started(*, task_id: str | None = None, **_: Any) -> None:
    """Celery's task_prerun signal."""
    current_task_id.set(task_id or "")


def task_finished(**_: Any) -> None:
    """Celery's task_postrun signal."""
    current_task_id.set("")
