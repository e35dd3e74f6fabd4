"""Signed checkpoints on the auditor's verify page: checkpoint files (`balancer checkpoint`) are
uploaded with the office's public key, and each is read and checked against the register as
`balancer verify --chain --checkpoint FILE… --public-key KEY.pub` checks it. The signing key is
never on the server, only its public half: uploaded, or put in the data folder by the operator
(`Storage.public_key`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import UploadFile

from balancer.errors import InputError
from balancer.web.app import Visit, allowed
from balancer.web.pages import storage_of
from balancer.web.runs import verify_page
from balancer.web.storage import PUBLIC_KEY

router = APIRouter()

MAX_FILE = 4096
"""Bytes of a checkpoint or a public key (a checkpoint is about 300, a PEM public key about 110)."""


@router.post("/verify")
def check_checkpoints(request: Request, visit: Visit = Depends(allowed("verify"))):
    uploads = [f for f in visit.form.getlist("checkpoints") if isinstance(f, UploadFile) and f.filename]
    if not uploads:
        return verify_page(request, visit, status_code=400, key_problem="Choose one or more checkpoint files.")
    files = [(f.filename[:100], f.file.read(MAX_FILE + 1)) for f in uploads]
    key, key_name, key_problem = _public_key(request, visit)

    def checking(reg, chain) -> dict:
        return {"checkpoints": [_checked(reg, chain, key, name, data) for name, data in files],
                "key_name": key_name, "key_problem": key_problem}

    return verify_page(request, visit, checking, status_code=200 if key is not None else 400)


def _public_key(request: Request, visit: Visit):
    """The key to check with, the file it came from, and why there is none (then the key is None):
    the one uploaded, else the one the operator put in the data folder."""
    from balancer.register.checkpoint import read_public_key

    upload = visit.form.get("public_key")
    if isinstance(upload, UploadFile) and upload.filename:
        name, data = upload.filename[:100], upload.file.read(MAX_FILE + 1)
    elif storage_of(request).public_key.is_file():
        name = f"{PUBLIC_KEY} (on the server)"
        try:
            data = storage_of(request).public_key.read_bytes()[:MAX_FILE + 1]
        except OSError as e:  # put there unreadable by the service's account
            return None, name, f"{name}: cannot be read ({e.strerror or e}): upload the key instead."
    else:
        return None, None, ("Upload the office's public key (the .pub beside its signing key): this server has "
                            f"none of its own ({PUBLIC_KEY} in its data folder).")
    try:
        if len(data) > MAX_FILE:
            raise InputError("not a key balancer can use: it is larger than a public key", file=name)
        return read_public_key(data, file=name), name, None
    except InputError as e:
        return None, name, e.message


def _checked(reg, chain, key, name: str, data: bytes) -> dict:
    """One checkpoint file as the page shows it: what it signs, and what keeps the register from
    extending it (nothing: it holds); or why it is not a checkpoint, or not checked."""
    from balancer.register.checkpoint import extends, read_checkpoint, verify_checkpoint

    try:
        if len(data) > MAX_FILE:
            raise InputError("not a balancer checkpoint: it is larger than a checkpoint", file=name)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError("not a balancer checkpoint: it is not text", file=name) from None
        cp = read_checkpoint(text, file=name)
    except InputError as e:
        return {"file": name, "problems": [e.message]}
    found = {"file": name, "checkpoint": cp, "elsewhere": cp.origin != reg.location}
    if key is None:
        return found | {"problems": ["not checked: no public key to check its signature with"]}
    problems = verify_checkpoint(reg, cp, key, chain=chain)
    return found | {"problems": problems, "holds": None if problems else extends(cp)}
