"""No secret key, webhook secret, client secret or card number reaches a log line."""

import io
import json
import logging

import pytest

from config.logging import JsonFormatter, MaskSecretsFilter, mask_secrets

SECRETS = [
    "sk_test_51HxYzAbCdEfGhIjKlMnOpQr",
    "sk_live_51HxYzAbCdEfGhIjKlMnOpQr",
    "rk_live_51HxYzAbCdEfGhIjKlMnOpQr",
    "whsec_AbCdEfGhIjKlMnOpQrStUv",
    "pi_3AbCdEf_secret_GhIjKlMnOp",
    "seti_1AbCdEf_secret_GhIjKlMnOp",
    "cs_test_a1B2c3D4_secret_fidwbEhqYWAnPCc",
    "4242424242424242",
    "4000 0025 0000 3155",
    "3782-822463-10005",
]


def logger_with(formatter: logging.Formatter) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(MaskSecretsFilter())
    logger = logging.getLogger(f"test.masking.{id(stream)}")
    logger.handlers = [handler]
    logger.propagate = False
    return logger, stream


@pytest.mark.parametrize("secret", SECRETS)
@pytest.mark.parametrize("formatter", [logging.Formatter("%(message)s"), JsonFormatter()])
def test_secrets_in_messages_arguments_and_exceptions_are_masked(secret, formatter):
    logger, stream = logger_with(formatter)

    logger.warning("configured with %s", secret)
    try:
        raise RuntimeError(f"boom {secret}")
    except RuntimeError:
        logger.exception("failed")

    output = stream.getvalue()
    assert secret not in output
    assert "[redacted]" in output


def test_json_lines_carry_extra_fields_and_mask_them():
    logger, stream = logger_with(JsonFormatter())

    logger.info("paid", extra={"order": "ORD-000001", "payment_intent": "pi_123", "key": SECRETS[0]})

    record = json.loads(stream.getvalue())
    assert record["message"] == "paid"
    assert record["order"] == "ORD-000001"
    assert record["payment_intent"] == "pi_123"
    assert record["key"] == "[redacted]"


def test_identifiers_and_publishable_keys_stay_readable():
    text = "ORD-000123 pi_3AbCdEf ch_1 cus_9 cs_test_a1B2c3D4 pk_test_51Abc amount 4200"
    assert mask_secrets(text) == text
