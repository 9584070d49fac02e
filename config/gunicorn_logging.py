"""gunicorn's logger with the project's secret mask on its access and error logs.

gunicorn logs each request line (and the Referer) itself, outside Django's logging, so the
client secret that Stripe.js puts in the return URL (`?payment_intent_client_secret=pi_…_secret_…`)
would be written as it came. `gunicorn.conf.py` at the project root selects this class.
"""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger

from config.logging import MaskSecretsFilter

_MASK = MaskSecretsFilter()


class MaskingLogger(Logger):
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        # On the loggers, not their handlers: gunicorn replaces handlers on reopen and SIGHUP.
        for log in (self.access_log, self.error_log):
            log.addFilter(_MASK)
