"""`python -m stripe_emulator [--host H] [--port P] [--seed N] [--data FILE] [--webhook URL ...]`,
or, against a running one, `python -m stripe_emulator [--api URL] trigger <event type>` and
`... resend <evt_id>` (stripe_emulator/cli.py)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from typing import Any

from . import cli
from .faults import parse_cli
from .resources import events
from .server import make_server
from .state import Emulator

CLI_COMMANDS = {"trigger", "resend"}


def main(argv: list[str] | None = None) -> int:
    args_given = sys.argv[1:] if argv is None else argv
    if CLI_COMMANDS & set(args_given):
        return cli.main(args_given)
    ap = argparse.ArgumentParser(
        prog="python -m stripe_emulator", description="Local stateful Stripe API emulator"
    )
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=12111)
    ap.add_argument("--seed", type=int, default=None, help="seed for ids and fault randomness")
    ap.add_argument("--data", default=None, help="SQLite file to persist state in (default: memory only)")
    ap.add_argument(
        "--webhook", default=None, help="pre-register a webhook endpoint (all events) at this URL"
    )
    ap.add_argument("--webhook-secret", default=None, help="signing secret for --webhook (whsec_...)")
    ap.add_argument(
        "--api-key", action="append", default=None, help="accept only these keys (repeatable; default: any)"
    )
    ap.add_argument(
        "--fault", action="append", default=[], help="fault spec, e.g. webhook:drop_rate=0.1 (repeatable)"
    )
    ap.add_argument("--webhook-first-retry", type=float, default=None, help="seconds before the first retry")
    ap.add_argument("--webhook-max-attempts", type=int, default=None)
    ap.add_argument("--webhook-timeout", type=float, default=None, help="per-attempt delivery timeout (s)")
    args = ap.parse_args(argv)

    keys = set(args.api_key) if args.api_key else None
    emu = Emulator(data_path=args.data, seed=args.seed, api_keys=keys)
    for spec in args.fault:
        emu.faults.configure(parse_cli(spec))
    policy: dict[str, Any] = {}
    if args.webhook_first_retry is not None:
        policy["first_retry"] = args.webhook_first_retry
    if args.webhook_max_attempts is not None:
        policy["max_attempts"] = args.webhook_max_attempts
    if args.webhook_timeout is not None:
        policy["timeout"] = args.webhook_timeout
    emu.webhooks.configure(**policy)
    server = make_server(emu, args.host, args.port)
    if args.webhook:
        _ensure_endpoint(emu, args.webhook, args.webhook_secret)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    print(json.dumps({"stripe_emulator": emu.base_url, "data": args.data}), flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        emu.close()
    return 0


def _ensure_endpoint(emu: Emulator, url: str, secret: str | None) -> None:
    """Register the --webhook endpoint once; with --data a restart reuses (and re-keys) it."""
    with emu.lock:
        for we in emu.store.all("webhook_endpoint"):
            if we["url"] == url:
                if secret:
                    we["_secrets"] = [{"secret": secret, "expires": None}]
                    emu.store.put(we)
                return
        events.new_endpoint(emu, url, ["*"], secret)


if __name__ == "__main__":
    sys.exit(main())
