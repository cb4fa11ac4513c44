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

from source_meta_capi.check import check_connection
from source_meta_capi.config import ConfigError, SourceConfig, upgraded_config, with_spec_defaults
from source_meta_capi.push.streams import PUSH_STREAMS, PushStreamReader, build_push_streams
from source_meta_capi.push.sync_report import SyncReport
from source_meta_capi.staging.open_store import open_store
from source_meta_capi.staging.reader import StagingReader
from source_meta_capi.staging.store import StoreAccessError, StoreError

MANIFEST_PATH = Path(__file__).parent / "manifest.yaml"

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
        # Configs saved before the spec changed shape are read in its current one (run.py also
        # writes the upgraded config back); the manifest and the components read spec.yaml's
        # defaults from the config they get.
        config = upgraded_config(config) if config else config
        defaulted = with_spec_defaults(config) if config else config
        super().__init__(path_to_yaml=str(MANIFEST_PATH), catalog=catalog, config=defaulted, state=state)
        self._configured_catalog = catalog
        self._given_config = dict(config) if config else None
        self._report = SyncReport()
        # Kept to close them after a read (identity files, decoder processes).
        self._push_readers: list[PushStreamReader] = []

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
            self._push_readers.extend(built.reader for built in push)
            streams.extend(built.stream for built in push)
        return streams

    def _check_bucket_before_read(self, catalog: ConfiguredAirbyteCatalog) -> None:
        """Fail the sync as `check` would when a push stream is selected and the bucket is unusable.

        Listing a missing local folder or S3 prefix finds nothing, so without this a sync of a
        mistyped bucket_url succeeds with 0 records and every stream COMPLETE.
        """
        staging = self._parsed_config().staging
        push_names = {spec.name for spec in PUSH_STREAMS}
        if staging is None or not any(configured.stream.name in push_names for configured in catalog.streams):
            return
        try:
            open_store(staging.bucket_url, staging.s3).check()
        except StoreError as error:
            failure = FailureType.config_error if isinstance(error, StoreAccessError) else FailureType.transient_error
            raise AirbyteTracedException(
                message=f"Staging bucket: {error}", internal_message=repr(error), failure_type=failure
            ) from error

    def _incremental_stream_names(self) -> frozenset[str]:
        if self._configured_catalog is None:
            return frozenset()
        return frozenset(
            configured.stream.name
            for configured in self._configured_catalog.streams
            if configured.sync_mode == SyncMode.incremental
        )

    # ---- verbs ----------------------------------------------------------------------------
    def configure(self, config: Mapping[str, Any], temp_dir: str) -> Mapping[str, Any]:
        # The entrypoint validates what this returns against the spec: a config in a deprecated
        # shape must be upgraded first, also when the source was built without a config.
        return super().configure(upgraded_config(config), temp_dir)

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
        problems = check_connection(self._config, parsed)
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
        self._check_bucket_before_read(catalog)
        try:
            yield from super().read(logger, config, catalog, state)
        finally:
            for reader in self._push_readers:
                reader.close()
            if self._push_readers:
                logger.info(json.dumps({"event": "sync_summary", **self._report.as_dict()}))
