"""Stripe's wire format: form-encoded bodies and query strings with nested brackets.

`metadata[order_id]=1&expand[]=a&line_items[0][price]=p` decodes to
`{"metadata": {"order_id": "1"}, "expand": ["a"], "line_items": [{"price": "p"}]}`.
Values stay strings, as Stripe receives them; handlers coerce what they need.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from email import policy as email_policy
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qsl, urlencode


class WireError(ValueError):
    """A body that cannot be decoded; answered with a 400 invalid_request_error."""


def _split_key(key: str) -> list[str]:
    head, _, rest = key.partition("[")
    if not head:
        raise WireError(f"Invalid parameter name: {key}")
    parts = [head]
    if rest:
        for match in re.finditer(r"\[([^\[\]]*)\]", "[" + rest):
            parts.append(match.group(1))
    return parts


def decode(text: str) -> dict[str, Any]:
    """Decode an `application/x-www-form-urlencoded` body or query string into nested dicts/lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        parts = _split_key(key)
        node: Any = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            # `[]` appends: build it as a dict keyed by a running index, listified at the end.
            if part == "":
                part = str(len(node))
            if last:
                if part in node and isinstance(node[part], dict):
                    raise WireError(f"Invalid array or hash for parameter {key}")
                node[part] = value
            else:
                child = node.get(part)
                if child is None:
                    child = {}
                    node[part] = child
                elif not isinstance(child, dict):
                    raise WireError(f"Invalid hash for parameter {key}")
                node = child
    return _listify(root)


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {k: _listify(v) for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


def encode(params: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Flatten nested params the way stripe-python does (used by tests and the bench)."""
    out: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, dict):
            out.extend(encode(value, name))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    out.extend(encode(item, f"{name}[{i}]"))
                else:
                    out.append((f"{name}[{i}]", _scalar(item)))
        elif value is not None:
            out.append((name, _scalar(value)))
    return out


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass
class Upload:
    """A file part of a multipart body (`POST /v1/files`)."""

    filename: str | None
    content_type: str | None
    data: bytes

    @property
    def fingerprint(self) -> str:
        """What idempotency compares and the validator sees instead of the bytes."""
        return f"sha256:{hashlib.sha256(self.data).hexdigest()}"


def decode_multipart(body: bytes, content_type: str) -> tuple[dict[str, Any], dict[str, Upload]]:
    """Decode a `multipart/form-data` body: text fields as `decode` would, file parts apart.

    Each file part appears in the params as its `Upload.fingerprint`, so a retried upload with
    the same bytes replays under its idempotency key and a different file does not.
    """
    message = BytesParser(policy=email_policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode("latin-1") + body
    )
    if not message.is_multipart():
        raise WireError("Invalid multipart body")
    fields: list[tuple[str, str]] = []
    uploads: dict[str, Upload] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise WireError("Invalid multipart body: a part has no name")
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None or part.get_content_type() not in ("text/plain",):
            upload = Upload(filename, part.get_content_type(), data)
            uploads[name] = upload
            fields.append((name, upload.fingerprint))
        else:
            fields.append((name, data.decode("utf-8")))
    return decode(urlencode(fields)), uploads
