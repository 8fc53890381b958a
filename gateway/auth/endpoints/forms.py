"""The form body of the authorization server's POST endpoints (RFC 6749 appendix B)."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request

from gateway.auth.errors import InvalidRequest

MAX_FORM_BYTES = 16_384
MAX_FORM_FIELDS = 32
_FORM_TYPE = "application/x-www-form-urlencoded"


async def read_form(request: Request) -> dict[str, str]:
    """The request's ``application/x-www-form-urlencoded`` body as a dict (RFC 6749 appendix B).

    A parameter given twice is ``invalid_request`` (RFC 6749 section 3.2).
    """
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != _FORM_TYPE:
        raise InvalidRequest(f"the body must be {_FORM_TYPE}", reason="wrong content type")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_FORM_BYTES:
            raise InvalidRequest("the request body is too large", reason=f"body over {MAX_FORM_BYTES} bytes")
    try:
        pairs = parse_qsl(
            bytes(body).decode("ascii"),
            keep_blank_values=True,
            max_num_fields=MAX_FORM_FIELDS,
            encoding="utf-8",
            errors="strict",
        )
    except ValueError:
        raise InvalidRequest("the form body does not parse", reason="form body does not parse") from None
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise InvalidRequest(f"parameter {name[:64]!r} appears more than once", reason="repeated parameter")
        params[name] = value
    return params
