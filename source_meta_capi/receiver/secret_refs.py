"""Secrets given as references to AWS Secrets Manager, so they live in the platform's secrets
manager rather than in env files or Lambda configuration.

A setting whose value is `arn:aws:secretsmanager:<region>:<account>:secret:<name>` or
`secretsmanager:<name>` is replaced by the secret's string. A `#<key>` suffix picks one key of a
JSON secret (`secretsmanager:meta/receiver#webhook_secrets`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Callable, Optional

ARN_PREFIX = "arn:aws:secretsmanager:"
SHORT_PREFIX = "secretsmanager:"


class SecretReferenceError(Exception):
    """A secret reference could not be resolved; names the setting and the secret, never a value."""


def is_secret_reference(value: str) -> bool:
    """Whether `value` names a Secrets Manager secret instead of being the secret itself."""
    return value.startswith((ARN_PREFIX, SHORT_PREFIX))


class SecretResolver:
    """Resolves references through boto3, with AWS settings taken from the injected environment.

    Credentials come from `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN` in that
    mapping when present, else from boto3's default chain (the Lambda or task role). The endpoint
    can be overridden with `META_CAPI_SECRETS_ENDPOINT_URL` (tests use a local moto server).
    Each secret is fetched once per resolver.
    """

    def __init__(
        self, environ: Mapping[str, str], client_factory: Optional[Callable[[Optional[str]], Any]] = None
    ) -> None:
        self._environ = environ
        self._client_factory = client_factory or self._boto_client
        self._clients: dict[Optional[str], Any] = {}
        self._cache: dict[str, str] = {}

    def resolve(self, setting: str, value: str) -> str:
        """The secret text for `value`, or `value` itself when it is not a reference."""
        if not is_secret_reference(value):
            return value
        reference, _, json_key = value.partition("#")
        if reference.startswith(ARN_PREFIX):
            parts = reference.split(":")
            if len(parts) < 7 or parts[5] != "secret" or not parts[3]:
                raise SecretReferenceError(f"{setting}: {reference!r} is not a Secrets Manager secret ARN")
            region: Optional[str] = parts[3]
            secret_id = reference
        else:
            region = None
            secret_id = reference[len(SHORT_PREFIX) :]
            if not secret_id:
                raise SecretReferenceError(f"{setting}: 'secretsmanager:' must be followed by a secret name")
        text = self._fetch(setting, secret_id, region)
        if not json_key:
            return text
        try:
            document = json.loads(text)
        except ValueError as error:
            raise SecretReferenceError(
                f"{setting}: secret {secret_id!r} is not JSON, so #{json_key} cannot be read"
            ) from error
        picked = document.get(json_key) if isinstance(document, dict) else None
        if not isinstance(picked, str):
            raise SecretReferenceError(f"{setting}: secret {secret_id!r} has no string key {json_key!r}")
        return picked

    def _fetch(self, setting: str, secret_id: str, region: Optional[str]) -> str:
        if secret_id in self._cache:
            return self._cache[secret_id]
        from botocore.exceptions import BotoCoreError, ClientError

        if region not in self._clients:
            self._clients[region] = self._client_factory(region)
        try:
            answer = self._clients[region].get_secret_value(SecretId=secret_id)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "error")
            raise SecretReferenceError(f"{setting}: cannot read secret {secret_id!r} ({code})") from error
        except BotoCoreError as error:
            raise SecretReferenceError(
                f"{setting}: cannot read secret {secret_id!r} ({type(error).__name__})"
            ) from error
        text = answer.get("SecretString")
        if not isinstance(text, str):
            raise SecretReferenceError(
                f"{setting}: secret {secret_id!r} has no SecretString (binary secrets are not supported)"
            )
        self._cache[secret_id] = text
        return text

    def _boto_client(self, region: Optional[str]) -> Any:
        import boto3
        from botocore.config import Config

        env = self._environ
        session = boto3.session.Session(
            aws_access_key_id=env.get("AWS_ACCESS_KEY_ID") or None,
            aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
            aws_session_token=env.get("AWS_SESSION_TOKEN") or None,
            region_name=region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
        )
        return session.client(
            "secretsmanager",
            endpoint_url=env.get("META_CAPI_SECRETS_ENDPOINT_URL") or None,
            config=Config(connect_timeout=3, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"}),
        )
