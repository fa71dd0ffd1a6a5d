"""A small blocking HTTP client over the host's `wasi:http/outgoing-handler`.

A rotation step is one synchronous call, so the client blocks on the host's pollables instead of
running an event loop. The host checks every request against the plugin's `http_hosts` grant and
answers a request outside it with `HTTP-request-denied`.
"""

import json
from dataclasses import dataclass
from typing import Optional
from urllib.parse import urlsplit

from componentize_py_types import Err
from wit_world.imports import outgoing_handler, streams
from wit_world.imports.wasi_http_types import (
    ErrorCode,
    ErrorCode_HttpRequestDenied,
    Fields,
    IncomingBody,
    Method_Delete,
    Method_Get,
    Method_Post,
    Method_Put,
    OutgoingBody,
    OutgoingRequest,
    Scheme_Http,
    Scheme_Https,
)

MAX_BODY_BYTES = 1 << 20

_METHODS = {
    "GET": Method_Get,
    "POST": Method_Post,
    "PUT": Method_Put,
    "DELETE": Method_Delete,
}


@dataclass
class Response:
    status: int
    body: bytes

    def json(self):
        return json.loads(self.body)


class HttpError(Exception):
    """The request did not get a response: refused by the host, unreachable, timed out."""

    def __init__(self, code: ErrorCode):
        super().__init__(type(code).__name__.removeprefix("ErrorCode_"))
        # The host refused the destination: no retry will change that.
        self.denied = isinstance(code, ErrorCode_HttpRequestDenied)


def request(
    method: str,
    url: str,
    *,
    bearer: Optional[str] = None,
    body: Optional[dict] = None,
) -> Response:
    parts = urlsplit(url)
    headers = [("accept", b"application/json")]
    if bearer is not None:
        headers.append(("authorization", b"Bearer " + bearer.encode()))
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        headers.append(("content-type", b"application/json"))
        headers.append(("content-length", str(len(payload)).encode()))

    outgoing = OutgoingRequest(Fields.from_list(headers))
    outgoing.set_method(_METHODS[method]())
    outgoing.set_scheme(Scheme_Https() if parts.scheme == "https" else Scheme_Http())
    outgoing.set_authority(parts.netloc)
    outgoing.set_path_with_query(parts.path + ("?" + parts.query if parts.query else ""))
    outgoing_body = outgoing.body()
    if payload is not None:
        with outgoing_body.write() as stream:
            stream.blocking_write_and_flush(payload)
    OutgoingBody.finish(outgoing_body, None)

    try:
        future = outgoing_handler.handle(outgoing, None)
    except Err as err:
        raise HttpError(err.value) from None
    with future.subscribe() as ready:
        ready.block()
    # Ready, so `get` returns the one result: Ok(Ok(response)) or Ok(Err(code)).
    result = future.get().value
    if isinstance(result, Err):
        raise HttpError(result.value)
    incoming = result.value
    status = incoming.status()
    return Response(status, _read_body(incoming.consume()))


def _read_body(body: IncomingBody) -> bytes:
    chunks = []
    size = 0
    with body.stream() as stream:
        while True:
            try:
                chunk = stream.blocking_read(16 * 1024)
            except Err as err:
                if isinstance(err.value, streams.StreamError_Closed):
                    break
                raise
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise ValueError("response body over 1 MiB")
            chunks.append(chunk)
    IncomingBody.finish(body)
    return b"".join(chunks)
