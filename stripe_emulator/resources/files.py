"""Files: `POST /v1/files` (multipart, as the SDK sends it to its `files` base) and retrieve/list.

Only `purpose=dispute_evidence` is accepted (what the product uploads), with Stripe's rules for it
(stripe.com/docs/file-upload): PDF, JPEG or PNG, at most 5 MB, kept for 9 months. The type is
read from the bytes, not from the name. Contents are served at the file's `url`.
"""

from __future__ import annotations

from typing import Any

from ..errors import invalid, missing
from ..server import Request, Response, register
from ..state import Emulator, render
from .common import as_str, created_filter, get_object, list_response, route

MAX_DISPUTE_EVIDENCE_BYTES = 5 * 1024 * 1024
EXPIRES_SECONDS = 274 * 86400  # "9 months"
PURPOSES = ("dispute_evidence",)
TOO_LARGE = (
    "File size of {size} bytes exceeds the maximum size of {limit} bytes allowed for purpose `{purpose}`."
)
BAD_TYPE = (
    "Invalid file: the file type is not supported for purpose `{purpose}`. "
    "Supported types are: pdf, jpeg, png."
)
PURPOSE_UNSUPPORTED = "The emulator accepts only purpose=dispute_evidence uploads (got `{purpose}`)."
MIME = {"pdf": "application/pdf", "jpg": "image/jpeg", "png": "image/png"}


def sniff(data: bytes) -> str | None:
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    return None


def create_file(req: Request) -> dict[str, Any]:
    emu, p = req.emu, req.params
    purpose = as_str(p, "purpose", required=True)
    upload = req.uploads.get("file")
    if upload is None:
        raise missing("file")
    if purpose not in PURPOSES:
        raise invalid(PURPOSE_UNSUPPORTED.format(purpose=purpose), param="purpose")
    size = len(upload.data)
    if size > MAX_DISPUTE_EVIDENCE_BYTES:
        raise invalid(
            TOO_LARGE.format(size=size, limit=MAX_DISPUTE_EVIDENCE_BYTES, purpose=purpose), param="file"
        )
    kind = sniff(upload.data)
    if kind is None:
        raise invalid(BAD_TYPE.format(purpose=purpose), param="file")
    file = emu.base_object("file", "file", purpose=purpose, size=size, type=kind)
    file.pop("livemode", None)
    now = file["created"]
    file.update(
        expires_at=now + EXPIRES_SECONDS,
        filename=upload.filename or f"{file['id']}.{kind}",
        links={"object": "list", "data": [], "has_more": False, "url": f"/v1/file_links?file={file['id']}"},
        title=None,
        url=f"{emu.base_url}/v1/files/{file['id']}/contents",
        _data=upload.data.hex(),
    )
    emu.store.put(file)
    return render(file)


def _get(emu: Emulator, file_id: str) -> dict[str, Any]:
    return get_object(emu, "file", file_id, "file", "file")


def list_files(req: Request) -> dict[str, Any]:
    objs = req.emu.store.all("file")
    purpose = as_str(req.params, "purpose")
    if purpose:
        objs = [o for o in objs if o["purpose"] == purpose]
    return list_response(req, created_filter(objs, req.params), "/v1/files")


def contents(req: Request) -> Response:
    file = req.emu.store.get(req.args["file"], "file")
    if file is None:
        return Response(404, {"error": {"type": "invalid_request_error", "message": "No such file"}})
    return Response(200, bytes.fromhex(file["_data"]), content_type=MIME[file["type"]])


route("POST", "/v1/files", create_file)
route("GET", "/v1/files", list_files)
route("GET", "/v1/files/{file}", lambda req: render(_get(req.emu, req.args["file"])))
register("GET", r"/v1/files/(?P<file>file_\w+)/contents", contents, api=False)
