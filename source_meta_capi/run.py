"""Console entry point `source-meta-capi`: the Airbyte protocol (spec, check, discover, read).

Imports stay inside `run()`: the record decoder processes are spawned interpreters that import
this module again (as the console script's main module) and must not load the CDK.
"""

from __future__ import annotations

import gc
import json
import sys
from typing import Any, List, Mapping, Optional


def run(args: Optional[List[str]] = None) -> None:
    """Build the source with the config, catalog and state named on the command line, then run."""
    from airbyte_cdk.entrypoint import AirbyteEntrypoint, launch

    from source_meta_capi.push import raw_output
    from source_meta_capi.source import SourceMetaCapi

    argv = list(sys.argv[1:] if args is None else args)
    catalog_path = AirbyteEntrypoint.extract_catalog(argv)
    config_path = AirbyteEntrypoint.extract_config(argv)
    state_path = AirbyteEntrypoint.extract_state(argv)
    config = SourceMetaCapi.read_config(config_path) if config_path else None
    if config_path and config is not None:
        _persist_upgraded_config(config_path, config)
    source = SourceMetaCapi(
        catalog=SourceMetaCapi.read_catalog(catalog_path) if catalog_path else None,
        config=config,
        state=SourceMetaCapi.read_state(state_path) if state_path else None,
    )
    # This process writes the protocol itself, so records checked in the decoder processes can
    # be written as the JSON they already are (push/raw_output.py).
    raw_output.install()
    # Everything alive now (imported modules, the parsed manifest and its models) lives for the
    # whole sync. Left to the collector, each full collection walks all of it again, and the
    # short-lived containers of parsed records trigger one every ~25k records: ~1.1 s of GC per
    # 100k records, a third of a sync (docs/benchmarks.md). Only here, in a process that exists
    # for this one sync: a host running the source in-process (PyAirbyte, tests) keeps its heap.
    gc.freeze()
    launch(source, argv)


def _persist_upgraded_config(config_path: str, config: Mapping[str, Any]) -> None:
    """Rewrite a config saved in a deprecated shape, and tell the platform (a CONTROL message),
    as the CDK does for declarative config migrations: the next sync starts from the new shape."""
    import orjson
    from airbyte_cdk.config_observation import create_connector_config_control_message
    from airbyte_cdk.models import AirbyteMessageSerializer

    from source_meta_capi.config import upgraded_config

    upgraded = upgraded_config(config)
    if upgraded is config:
        return
    try:
        with open(config_path, "w") as handle:
            json.dump(upgraded, handle)
    except OSError:
        pass  # A read-only mount: the CONTROL message below still updates the platform's copy.
    message = create_connector_config_control_message(dict(upgraded))
    sys.stdout.write(orjson.dumps(AirbyteMessageSerializer.dump(message)).decode() + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    run()
