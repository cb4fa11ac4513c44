"""The error a bad environment raises: every problem named by its variable, and no secret in it.

A startup error is printed to a terminal or a log, so its text is held to a stricter rule than
the parsers' messages: pydantic's own text quotes each offending input,
and a token pasted where a pixel id goes would be quoted as the "pixel id". This module builds
the message from pydantic's structured errors, quotes an input only when its variable is not
secret, and then, as a second line of defence, replaces every piece of every secret variable's
value. It is apart from settings.py because it reads errors and values, never declares a
setting; settings.py tells it which names are secret and which variable a field is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping

from pydantic import ValidationError

from source_meta_capi.receiver.secret_refs import is_secret_reference

# Shorter pieces of a secret variable (a pixel id, "v1") are not worth hiding and too common to.
_MIN_REDACTED = 6


class SettingsError(ValueError):
    """A variable is missing or invalid; the message names it and never contains a secret."""


def settings_error(
    error: ValidationError,
    given: Mapping[str, str],
    variable_of: Callable[[str], str],
    secret_names: Collection[str],
) -> SettingsError:
    """The SettingsError for `error`, raised while validating the variables `given`.

    `variable_of` maps a field name or variable to the variable to name; `secret_names` holds
    the field names and variables of every secret setting.
    """
    return SettingsError(_redact(_describe(error, variable_of, secret_names), given, secret_names))


def _describe(error: ValidationError, variable_of: Callable[[str], str], secret_names: Collection[str]) -> str:
    messages = []
    for problem in error.errors(include_url=False, include_input=True):
        location = problem["loc"]
        context = problem.get("ctx") or {}
        reason = str(context["error"]) if problem["type"] == "value_error" and "error" in context else problem["msg"]
        if not location:
            messages.append(reason)
            continue
        name = str(location[0])
        if name not in secret_names and isinstance(problem.get("input"), str):
            reason += f", got {problem['input']!r}"
        variable = variable_of(name)
        # Secret reference errors already start with the setting they name.
        messages.append(reason if reason.startswith(variable) else f"{variable}: {reason}")
    return "; ".join(messages)


def _redact(message: str, given: Mapping[str, str], secret_names: Collection[str]) -> str:
    """`message` with every piece of every secret variable's value replaced.

    The validators never quote a secret variable; this is the second line, for a message that
    would (a token pasted where the pixel id goes, quoted as the "pixel id")."""
    pieces: set[str] = set()
    for variable in secret_names:
        value = given.get(variable)
        if not value:
            continue
        if is_secret_reference(value):
            continue  # a Secrets Manager reference names a secret, it is none: errors quote it
        pieces.add(value)
        for item in value.split(","):
            # `pixel=secretsmanager:…` entries are references too.
            if is_secret_reference(item.partition("=")[2].strip()):
                continue
            pieces.update(piece.strip(" \t\"'{}[]:") for piece in re.split(r"[,=:#|\s]+", item))
    for piece in sorted((p for p in pieces if len(p) >= _MIN_REDACTED), key=len, reverse=True):
        message = message.replace(piece, "[redacted]")
    return message
