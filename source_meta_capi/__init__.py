"""source-meta-capi: an Airbyte source and webhook receiver for Meta's Conversions API.

`SourceMetaCapi` is importable from here (Airbyte's `airbyte-cdk connector test` looks for
`source_meta_capi.SourceMetaCapi`), but lazily: importing the receiver (or the Lambda handler)
must not pull in airbyte_cdk, so nothing is imported until the name is asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from source_meta_capi.source import SourceMetaCapi

__all__ = ["SourceMetaCapi"]


def __getattr__(name: str) -> Any:
    if name == "SourceMetaCapi":
        from source_meta_capi.source import SourceMetaCapi

        return SourceMetaCapi
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
