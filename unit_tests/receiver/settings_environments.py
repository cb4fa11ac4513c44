"""Environments the settings tests load: a Standard Webhooks secret and stand-in secret resolvers."""

from __future__ import annotations

import base64

from source_meta_capi.receiver.settings import ReceiverSettings, load_settings

SECRET = "whsec_" + base64.b64encode(b"s" * 32).decode()


class NoSecrets:
    """A resolver for environments without references: every value is itself."""

    def resolve(self, setting: str, value: str) -> str:
        return value


class FakeSecretsManager:
    """A resolver whose references are the keys of `secrets`."""

    def __init__(self, secrets: dict[str, str]) -> None:
        self.secrets = secrets

    def resolve(self, setting: str, value: str) -> str:
        return self.secrets.get(value, value)


def load(**env: str) -> ReceiverSettings:
    """The settings of the variables `env`, references left unresolved."""
    return load_settings(env, NoSecrets())  # type: ignore[arg-type]
