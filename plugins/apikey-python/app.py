"""Rotates an API key at a key-management HTTP API (built with componentize-py).

The secret is a JSON object:

    {"endpoint": "http://keys.internal:8080", "key_id": "app-1", "api_key": "…"}

and the API has three calls, each authenticated with `Authorization: Bearer <api_key>` of a
key that is not revoked:

    PUT    /keys/{id}  {"secret": "…"}  registers a key (201, or 200 when it already exists
                                        with this secret; 409 with another)
    GET    /whoami                      200 {"key_id": …} for a valid key, 401 otherwise
    DELETE /keys/{id}                   revokes a key (204; 404 when unknown)

createSecret draws the new key here, setSecret registers it with the current key, testSecret
authenticates with it, and the finish hook revokes the key that is now AWSPREVIOUS.
"""

import json
from typing import Optional

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import password
from wit_world.imports.log import Level, log
from wit_world.imports.secrets_gateway_rotation_types import (
    Context,
    SecretVersion,
    StepError_Fatal,
    StepError_Retryable,
)

import http_client

KEY_LENGTH = 40


class Steps(exports.Steps):
    def create_secret(self, context: Context) -> Optional[str]:
        current = _key(context.current, "AWSCURRENT")
        try:
            new_key = password.generate(
                password.Options(
                    length=KEY_LENGTH,
                    exclude_characters="",
                    exclude_numbers=False,
                    exclude_punctuation=True,
                    exclude_uppercase=False,
                    exclude_lowercase=False,
                    include_space=False,
                    require_each_included_type=True,
                )
            )
        except Err as err:
            raise Err(StepError_Fatal(f"the password generator refused: {err.value}"))
        # The token names the rotation, so a retried createSecret registers the same key id.
        return json.dumps({**current, "key_id": f"rotated-{context.token}", "api_key": new_key})

    def set_secret(self, context: Context) -> None:
        current = _key(context.current, "AWSCURRENT")
        pending = _key(context.pending, "AWSPENDING")
        response = _call(
            "PUT",
            f"{current['endpoint']}/keys/{pending['key_id']}",
            bearer=current["api_key"],
            body={"secret": pending["api_key"]},
        )
        if response.status in (200, 201):
            log(Level.INFO, f"registered key {pending['key_id']}")
            return
        if response.status == 401:
            raise Err(StepError_Fatal("the API refused the current key"))
        if response.status == 409:
            raise Err(StepError_Fatal(f"key id {pending['key_id']} exists with another secret"))
        raise _unexpected("registering the new key", response)

    def test_secret(self, context: Context) -> None:
        pending = _key(context.pending, "AWSPENDING")
        response = _call("GET", f"{pending['endpoint']}/whoami", bearer=pending["api_key"])
        if response.status == 401:
            raise Err(StepError_Retryable("the API does not accept the new key yet"))
        if response.status != 200:
            raise _unexpected("authenticating with the new key", response)
        if response.json().get("key_id") != pending["key_id"]:
            raise Err(StepError_Fatal("the new key authenticates as another key id"))

    def finish_secret(self, context: Context) -> None:
        if context.previous is None:
            return
        current = _key(context.current, "AWSCURRENT")
        previous = _key(context.previous, "AWSPREVIOUS")
        if previous["key_id"] == current["key_id"]:
            return
        response = _call(
            "DELETE",
            f"{current['endpoint']}/keys/{previous['key_id']}",
            bearer=current["api_key"],
        )
        if response.status in (204, 404):
            log(Level.INFO, f"revoked key {previous['key_id']}")
            return
        raise _unexpected("revoking the previous key", response)


def _key(version: Optional[SecretVersion], stage: str) -> dict:
    if version is None:
        raise Err(StepError_Fatal(f"the secret has no {stage} version"))
    try:
        value = json.loads(version.secret_string)
    except ValueError:
        raise Err(StepError_Fatal(f"the {stage} value is not JSON")) from None
    missing = [
        field
        for field in ("endpoint", "key_id", "api_key")
        if not isinstance(value, dict) or not isinstance(value.get(field), str)
    ]
    if missing:
        raise Err(StepError_Fatal(f"the {stage} value lacks {', '.join(missing)}"))
    value["endpoint"] = value["endpoint"].rstrip("/")
    return value


def _call(method: str, url: str, **kwargs) -> http_client.Response:
    try:
        return http_client.request(method, url, **kwargs)
    except http_client.HttpError as err:
        error = StepError_Fatal if err.denied else StepError_Retryable
        raise Err(error(f"{method} {url}: {err}")) from None


def _unexpected(action: str, response: http_client.Response) -> Err:
    error = StepError_Retryable if response.status >= 500 else StepError_Fatal
    return Err(error(f"{action}: the API answered {response.status}"))
