"""Request-wide limits, in one place: URL length, body size, JSON nesting, NUL characters.

Each is answered with a JSON ``detail`` naming the limit, before a view or the database sees the
request, instead of a connection reset (URL), Django's bare HTML 400 (body), a RecursionError
(JSON) or a PostgreSQL error (NUL):

- a request target (path and query string) over :data:`MAX_URL_BYTES` (64 KiB): 414. The server
  (``geoplatform serve``) reads request heads up to :data:`MAX_REQUEST_HEAD_BYTES` (1 MiB), so such
  a URL reaches this check; a longer head is refused by uvicorn itself;
- a JSON or form body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (``GEOPLATFORM_MAX_BODY_BYTES``,
  2.5 MiB by default): 413. Files sent as multipart uploads have their own limits (publish, batch
  geocoding); their non-file fields count against this one;
- a JSON body nested deeper than :data:`MAX_JSON_DEPTH` levels: 400;
- a NUL character (``%00``) in the path or in a query parameter: 400 (no text field can hold one);
- any body over :func:`largest_body` (the largest upload an endpoint accepts): 413 before it is read
  (:func:`bounded_bodies`), since the WSGI bridge of ``geoplatform serve`` holds a body in memory.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import JsonResponse
from rest_framework import parsers
from rest_framework.exceptions import ParseError

#: Longest request target (path + ``?`` + query string) the application answers.
MAX_URL_BYTES = 64 * 1024
#: Longest request line and headers uvicorn (h11) reads; above MAX_URL_BYTES so the application answers 414.
MAX_REQUEST_HEAD_BYTES = 1024 * 1024
#: Deepest nesting of arrays and objects in a JSON body.
MAX_JSON_DEPTH = 64


def _size(n: int) -> str:
    """``2.5 MiB (2,621,440 bytes)``, ``64 KiB (65,536 bytes)``, ``1,000 bytes``."""
    for unit, scale in (("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit} ({n:,} bytes)"
    return f"{n:,} bytes"


def refusal(status: int, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status, json_dumps_params={"ensure_ascii": False})


def url_too_long(target_bytes: int) -> str | None:
    """Why a request target of ``target_bytes`` is refused, or None when it is within the limit."""
    if target_bytes <= MAX_URL_BYTES:
        return None
    return (f"request URL of {target_bytes:,} bytes is longer than the limit of {_size(MAX_URL_BYTES)}; "
            "send fewer or shorter query parameters")


def body_too_large(content_type: str, content_length: int, limit: int) -> str | None:
    """Why a body (not a multipart upload) of ``content_length`` bytes is refused, or None."""
    if content_type.startswith("multipart/") or content_length <= limit:
        return None
    return (f"request body of {content_length:,} bytes is larger than the limit of {_size(limit)} "
            "for JSON and form bodies; send files as multipart/form-data uploads")


def nul_parameter(path: str, query: dict[str, list[str]]) -> str | None:
    """Why a request whose path or query carries a NUL character is refused, or None."""
    if "\x00" in path:
        return "the URL path contains a NUL character (%00); remove it"
    for name, values in query.items():
        if "\x00" in name or any("\x00" in v for v in values):
            shown = name.replace("\x00", "%00")
            return f"query parameter {shown!r} contains a NUL character (%00), which no field can hold; remove it"
    return None


def json_too_deep(value, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``value`` (parsed JSON) nests arrays/objects more than ``limit`` levels (iterative: no recursion)."""
    if not isinstance(value, dict | list):
        return False
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing deep nesting with a 400 (the stock one lets a RecursionError out: a 500)."""

    def parse(self, stream, media_type=None, parser_context=None):
        message = f"JSON body nested more than {MAX_JSON_DEPTH} levels deep; send a flatter document"
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(message) from None
        if json_too_deep(data):
            raise ParseError(message)
        return data


class RequestLimitsMiddleware:
    """First in MIDDLEWARE: refuses a request over a limit before anything reads it (see the module)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        target = len(request.path.encode()) + 1 + len(request.META.get("QUERY_STRING", ""))
        if why := url_too_long(target):
            return refusal(414, why)
        if why := nul_parameter(request.path, dict(request.GET.lists())):
            return refusal(400, why)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return refusal(400, "the Content-Length header is not a number")
        if why := body_too_large(request.META.get("CONTENT_TYPE", ""), length, settings.DATA_UPLOAD_MAX_MEMORY_SIZE):
            return refusal(413, why)
        return self.get_response(request)

    def process_exception(self, request, exception):
        """Django's body limits, hit while a view reads the body, as JSON naming the limit (not a bare 400)."""
        if isinstance(exception, RequestDataTooBig):
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            return refusal(413, f"request body larger than the limit of {_size(limit)} for form fields; "
                                "send files as multipart/form-data file uploads")
        if isinstance(exception, TooManyFieldsSent):
            return refusal(400, f"more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS:,} form fields in one request")
        if isinstance(exception, TooManyFilesSent):
            return refusal(400, f"more than {settings.DATA_UPLOAD_MAX_NUMBER_FILES:,} files in one request")
        return None


#: How much of a refused body is read and dropped before the 413, so the client sees the answer.
DRAIN_BYTES = 16 * 2**20


def largest_body() -> int:
    """The largest body any endpoint accepts: a layer upload or a batch geocoding file."""
    from geoplatform.layers import conf as layers_conf

    return max(layers_conf.max_upload_bytes(), settings.GEOPLATFORM_GEOCODE_MAX_UPLOAD_BYTES,
               settings.DATA_UPLOAD_MAX_MEMORY_SIZE)


def bounded_bodies(app, limit: int):
    """ASGI wrapper: a body announced (Content-Length) or sent (chunked) beyond ``limit`` bytes gets a 413 JSON
    answer instead of being buffered whole. uvicorn's WSGI bridge reads the entire body into memory before
    Django's own per-endpoint checks run, so without this one request could ask for any amount of it."""
    import json

    async def refuse(send, sent: int | None = None) -> None:
        detail = (f"request body {'of ' + format(sent, ',') + ' bytes ' if sent else ''}is larger than the largest "
                  f"upload this server accepts, {_size(limit)}")
        body = json.dumps({"detail": detail}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    async def bounded(scope, receive, send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length", b"")
        if length.isdigit() and int(length) > limit:
            await refuse(send, int(length))
            return
        received = 0
        more = True

        async def counted():
            nonlocal received, more
            message = await receive()
            received += len(message.get("body", b""))
            more = message.get("more_body", False)
            if received > limit:
                raise BodyTooLarge(received)
            return message

        try:
            await app(scope, counted, send)
        except BodyTooLarge as exc:
            # Read (and drop) a little more of what the client is still sending, so that closing the connection
            # with data unread does not reset it before the client has read the 413.
            drained = 0
            while more and drained < DRAIN_BYTES:
                message = await receive()
                drained += len(message.get("body", b""))
                more = message.get("more_body", False) and message.get("type") == "http.request"
            await refuse(send, exc.args[0])

    return bounded


class BodyTooLarge(Exception):
    """A chunked body that grew past the limit while it was read."""
