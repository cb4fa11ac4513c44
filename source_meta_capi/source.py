"""The Airbyte source: the declarative pull streams of manifest.yaml plus the push streams."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Iterator, List, Mapping, Optional

from airbyte_cdk.models import (
    AirbyteCatalog,
    AirbyteConnectionStatus,
    AirbyteMessage,
    AirbyteStateMessage,
    ConfiguredAirbyteCatalog,
    FailureType,
    Status,
    SyncMode,
)
from airbyte_cdk.sources.declarative.yaml_declarative_source import YamlDeclarativeSource
from airbyte_cdk.sources.streams.concurrent.abstract_stream import AbstractStream
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_meta_capi.config import ConfigError, SourceConfig
from source_meta_capi.push_streams import build_push_streams
from source_meta_capi.staging.reader import StagingReader
from source_meta_capi.staging.store import StoreError, open_store
from source_meta_capi.staging_check import check_staging
from source_meta_capi.sync_report import SyncReport

MANIFEST_PATH = Path(__file__).parent / "manifest.yaml"
PULL_STREAMS = frozenset({"pixels", "pixel_stats", "dataset_quality"})

logger = logging.getLogger("airbyte.source_meta_capi")


class SourceMetaCapi(YamlDeclarativeSource):
    """Meta Conversions API source.

    Push mode (config `staging`) adds delivered_events, delivery_statuses and dead_letters read
    from the receiver's bucket; pull mode (config `credentials`) offers the Graph API streams of
    manifest.yaml. Config, catalog and state come from the constructor (run.py extracts them from
    argv); when a caller constructs the source with no arguments (the CDK standard tests,
    PyAirbyte), each verb rebuilds the source with the config it receives.
    """

    def __init__(
        self,
        catalog: Optional[ConfiguredAirbyteCatalog] = None,
        config: Optional[Mapping[str, Any]] = None,
        state: Optional[List[AirbyteStateMessage]] = None,
    ) -> None:
        super().__init__(path_to_yaml=str(MANIFEST_PATH), catalog=catalog, config=config, state=state)
        self._configured_catalog = catalog
        self._given_config = dict(config) if config else None
        self._report = SyncReport()
        self._push_generators: list[Any] = []

    # ---- construction with no arguments ----------------------------------------------------
    def _rebuilt_for(
        self,
        config: Mapping[str, Any],
        catalog: Optional[ConfiguredAirbyteCatalog] = None,
        state: Optional[List[AirbyteStateMessage]] = None,
    ) -> Optional[SourceMetaCapi]:
        if self._given_config is not None and dict(config) == self._given_config:
            return None
        return SourceMetaCapi(catalog=catalog, config=config, state=state)

    def _parsed_config(self) -> SourceConfig:
        try:
            return SourceConfig.from_mapping(self._config)
        except ConfigError as error:
            raise AirbyteTracedException(
                message=str(error), internal_message=str(error), failure_type=FailureType.config_error
            ) from error

    # ---- streams --------------------------------------------------------------------------
    def streams(self, config: Mapping[str, Any]) -> List[AbstractStream]:  # type: ignore[override]
        parsed = self._parsed_config()
        streams: List[AbstractStream] = []
        if parsed.has_credentials:
            streams.extend(super().streams(config))
        if parsed.staging is not None:
            try:
                store = open_store(parsed.staging.bucket_url, parsed.staging.s3)
            except StoreError as error:
                raise AirbyteTracedException(message=str(error), failure_type=FailureType.config_error) from error
            push = build_push_streams(
                parsed,
                StagingReader(store),
                self._connector_state_manager,
                self._message_repository,
                self._incremental_stream_names(),
                self._report,
            )
            self._push_generators.extend(stream._stream_partition_generator for stream in push)
            streams.extend(push)
        return streams

    def _incremental_stream_names(self) -> frozenset[str]:
        if self._configured_catalog is None:
            return frozenset()
        return frozenset(
            configured.stream.name
            for configured in self._configured_catalog.streams
            if configured.sync_mode == SyncMode.incremental
        )

    # ---- verbs ----------------------------------------------------------------------------
    def discover(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteCatalog:
        rebuilt = self._rebuilt_for(config)
        if rebuilt is not None:
            return rebuilt.discover(logger, config)
        return super().discover(logger, config)

    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        rebuilt = self._rebuilt_for(config)
        if rebuilt is not None:
            return rebuilt.check(logger, config)
        try:
            parsed = SourceConfig.from_mapping(self._config)
        except ConfigError as error:
            return AirbyteConnectionStatus(status=Status.FAILED, message=str(error))
        problems: list[str] = []
        if parsed.staging is not None:
            problems.extend(check_staging(parsed))
        if parsed.has_credentials:
            from source_meta_capi.graph_check import check_graph_access

            problems.extend(check_graph_access(self._config, parsed))
        if problems:
            return AirbyteConnectionStatus(status=Status.FAILED, message=" ".join(problems))
        return AirbyteConnectionStatus(status=Status.SUCCEEDED)

    def read(
        self,
        logger: logging.Logger,
        config: Mapping[str, Any],
        catalog: ConfiguredAirbyteCatalog,
        state: Optional[List[AirbyteStateMessage]] = None,
    ) -> Iterator[AirbyteMessage]:
        rebuilt = self._rebuilt_for(config, catalog, state)
        if rebuilt is not None:
            yield from rebuilt.read(logger, config, catalog, state)
            return
        if self._configured_catalog is None:
            self._configured_catalog = catalog
        try:
            yield from super().read(logger, config, catalog, state)
        finally:
            for generator in self._push_generators:
                generator.close()
            if self._push_generators:
                logger.info(json.dumps({"event": "sync_summary", **self._report.as_dict()}))
