"""`check` for pull mode (placeholder until the Graph API check lands)."""

from __future__ import annotations

from typing import Any, Mapping

from source_meta_capi.config import SourceConfig


def check_graph_access(config: Mapping[str, Any], parsed: SourceConfig) -> list[str]:
    """Problems reaching the Graph API for each configured pixel; empty when all pixels answer."""
    return []
