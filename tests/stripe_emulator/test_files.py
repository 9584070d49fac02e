"""Files: multipart uploads for dispute evidence, Stripe's type and size rules, and no upload leaving."""

from __future__ import annotations

import io
import socket
from typing import Any

import pytest
import stripe
from pytest_django.fixtures import SettingsWrapper

from payments import stripe_gateway
from stripe_emulator.resources.files import MAX_DISPUTE_EVIDENCE_BYTES
from stripe_emulator.testing import EmulatorHandle

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _named(data: bytes, name: str) -> io.BytesIO:
    handle = io.BytesIO(data)
    handle.name = name
    return handle


def test_upload_and_retrieve_a_pdf(client: Any) -> None:
    upload = client.v1.files.create(
        params={"purpose": "dispute_evidence", "file": _named(PDF, "receipt.pdf")},
        options={"idempotency_key": "file-1"},
    )
    assert upload.id.startswith("file_") and upload.object == "file"
    assert (upload.purpose, upload.type, upload.size, upload.filename) == (
        "dispute_evidence",
        "pdf",
        len(PDF),
        "receipt.pdf",
    )
    assert upload.expires_at > upload.created
    again = client.v1.files.create(
        params={"purpose": "dispute_evidence", "file": _named(PDF, "receipt.pdf")},
        options={"idempotency_key": "file-1"},
    )
    assert again.id == upload.id
    assert client.v1.files.retrieve(upload.id).size == len(PDF)
    assert [f.id for f in client.v1.files.list(params={"purpose": "dispute_evidence"}).data] == [upload.id]


def test_the_type_comes_from_the_bytes(client: Any) -> None:
    png = client.v1.files.create(params={"purpose": "dispute_evidence", "file": _named(PNG, "scan.pdf")})
    assert png.type == "png"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.files.create(params={"purpose": "dispute_evidence", "file": _named(b"GIF89a....", "a.gif")})
    assert exc.value.param == "file"
    assert "pdf, jpeg, png" in str(exc.value.user_message)


def test_files_over_the_size_limit_are_refused(client: Any) -> None:
    big = PDF + b"0" * (MAX_DISPUTE_EVIDENCE_BYTES - len(PDF) + 1)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.files.create(params={"purpose": "dispute_evidence", "file": _named(big, "big.pdf")})
    assert exc.value.http_status == 400 and exc.value.param == "file"
    assert "exceeds the maximum size" in str(exc.value.user_message)
    assert client.v1.files.list().data == []
    exact = PDF + b"0" * (MAX_DISPUTE_EVIDENCE_BYTES - len(PDF))
    assert client.v1.files.create(
        params={"purpose": "dispute_evidence", "file": _named(exact, "ok.pdf")}
    ).size == (MAX_DISPUTE_EVIDENCE_BYTES)


def test_a_gateway_upload_never_leaves_the_machine(
    stripe_emulator: EmulatorHandle, settings: SettingsWrapper, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the gateway pointed at the emulator, and every name lookup recorded
    settings.STRIPE_API_BASE = stripe_emulator.url
    settings.STRIPE_SECRET_KEY = stripe_emulator.secret_key
    looked_up: list[str] = []
    real_getaddrinfo = socket.getaddrinfo

    def recording_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        looked_up.append(str(host))
        if str(host) not in ("127.0.0.1", "localhost", "::1"):
            raise OSError(f"test: refused to resolve {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", recording_getaddrinfo)

    # when the product's client uploads evidence
    client = stripe_gateway.get_client()
    upload = client.v1.files.create(
        params={"purpose": "dispute_evidence", "file": _named(PDF, "receipt.pdf")}
    )

    # then it reached the emulator, and nothing but loopback was ever looked up
    assert stripe_emulator.emulator is not None
    assert stripe_emulator.emulator.store.get(upload.id, "file") is not None
    assert looked_up and set(looked_up) <= {"127.0.0.1"}
