"""Log formatting and the filter that keeps secrets and card numbers out of every log line."""

import json
import logging
import re
from typing import Any

# Stripe secret and restricted keys, webhook secrets, client secrets, and 13–19 digit card numbers
# (with optional spaces or dashes). Publishable keys are public and stay readable.
SECRET_PATTERNS = [
    re.compile(r"\b(?:sk|rk)_(?:test|live)_[A-Za-z0-9]+"),
    re.compile(r"\bwhsec_[A-Za-z0-9_]+"),
    # PaymentIntent and SetupIntent client secrets (`pi_…_secret_…`, in the Payment Element's
    # return URL) and Checkout Session ones (`cs_test_…_secret_…`).
    re.compile(r"\b(?:pi|seti|cs)_(?:(?:test|live)_)?[A-Za-z0-9]+_secret_[A-Za-z0-9]+"),
    re.compile(r"\b(?:\d[ -]?){12,18}\d\b"),
]
MASK = "[redacted]"


def mask_secrets(text: str) -> str:
    for pattern in SECRET_PATTERNS:
        text = pattern.sub(MASK, text)
    return text


class MaskSecretsFilter(logging.Filter):
    """Rewrites the rendered message (and exception text) of every record with secrets masked.

    On the project's handler, and on the web servers' access logs: Django's dev server
    (`django.server`, in settings.LOGGING) and gunicorn (`config.gunicorn_logging`), because
    Stripe.js puts the PaymentIntent's client secret in the return URL's query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_secrets(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_secrets(record.exc_text)
        return True


_STANDARD_ATTRS = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any `extra=` fields."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        payload.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD_ATTRS})
        if record.exc_text or record.exc_info:
            payload["exception"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return mask_secrets(json.dumps(payload, default=str))
