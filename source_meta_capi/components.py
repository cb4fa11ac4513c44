"""Custom declarative components for the Graph API pull streams in manifest.yaml.

Each class sits at one of the CDK's named extension points and exists only because the
built-in component cannot express the Meta behaviour its docstring names. Meta's error
taxonomy, usage headers and proofs live in the pure ``capi`` modules, shared with push mode,
so the source and the forwarder classify Meta's answers the same way.
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import InitVar, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Mapping, NoReturn, Optional, Union
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from airbyte_cdk.sources.declarative.auth.declarative_authenticator import (
    DeclarativeAuthenticator,
)
from airbyte_cdk.sources.declarative.requesters.error_handlers.default_error_handler import (
    DefaultErrorHandler,
)
from airbyte_cdk.sources.declarative.requesters.paginators.strategies.pagination_strategy import (
    PaginationStrategy,
)
from airbyte_cdk.sources.streams.http.error_handlers import BackoffStrategy
from airbyte_cdk.sources.streams.http.error_handlers.response_models import (
    ErrorResolution,
    ResponseAction,
)
from airbyte_cdk.sources.types import Config, Record, StreamSlice
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from airbyte_protocol_dataclasses.models import FailureType

from source_meta_capi.capi.appsecret_proof import PROOF_PARAMS, proof_params
from source_meta_capi.capi.graph_api import DEFAULT_GRAPH_BASE_URL, pixel_id_of_url, url_origin
from source_meta_capi.capi.graph_errors import (
    ErrorClass,
    GraphError,
    classify,
    describe_for_user,
    parse_graph_error,
    redact_secrets,
)
from source_meta_capi.capi.rate_limits import (
    EMPTY_USAGE,
    BackoffPolicy,
    UsageSnapshot,
    backoff_seconds,
    pacing_delay,
    parse_usage_headers,
)
from source_meta_capi.config import with_spec_defaults

__all__ = [
    "GraphApiAuthenticator",
    "GraphApiErrorHandler",
    "GraphNextPageStrategy",
    "GraphUsageBackoffStrategy",
]

LOGGER = logging.getLogger("airbyte")

# The CDK stops retrying a request after a fixed 600 s (HttpClient / DefaultErrorHandler
# max_time). Backoff never asks for more than that, and a lockout longer than that fails up
# front instead of sleeping into a retry the CDK will not make.
RETRY_BUDGET_SECONDS = 600

# Backoff as rate_limits defines it, but allowed to wait a whole Meta lockout that fits in the
# retry budget: the default 300 s cap would retry a 9-minute lockout while it still holds.
READ_BACKOFF_POLICY = BackoffPolicy(max_delay_seconds=RETRY_BUDGET_SECONDS)


def _unix_time() -> int:
    """The clock the time-stamped proof signs; a seam for tests."""
    return int(time.time())


def _sleep(seconds: float) -> None:
    """Pacing sleep; a seam for tests."""
    time.sleep(seconds)


def _credentials(config: Mapping[str, Any]) -> Mapping[str, Any]:
    credentials = config.get("credentials")
    return credentials if isinstance(credentials, Mapping) else {}


def _graph_base_url(config: Mapping[str, Any]) -> str:
    graph_api = config.get("graph_api")
    base_url = graph_api.get("base_url") if isinstance(graph_api, Mapping) else None
    return str(base_url or DEFAULT_GRAPH_BASE_URL)


@dataclass
class GraphApiAuthenticator(DeclarativeAuthenticator):
    """Bearer token, plus a fresh ``appsecret_proof`` on every request sent (fact sheet §7.4).

    Why not ``BearerAuthenticator``: apps with "Require App Secret" reject any call without
    ``appsecret_proof``, an HMAC of the token keyed by the app secret, and the time-stamped
    form (``appsecret_time``) expires after 5 minutes. A proof put in the request parameters
    is computed once, when the request is built, so it goes stale when the CDK resends the
    same request after a rate-limit wait, and Graph's absolute ``paging.next`` links can echo
    an old proof. Here the proof is written into the URL each time the request is sent:
    ``requests`` applies the session authenticator when preparing a request and the CDK
    re-applies it before every retry.

    The token travels in the ``Authorization`` header, never in the URL, because the CDK logs
    request URLs when a request fails.
    """

    config: Config
    parameters: InitVar[Mapping[str, Any]]

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        credentials = _credentials(with_spec_defaults(self.config))
        self._access_token = str(credentials.get("access_token") or "")
        uses_app_secret = credentials.get("auth_type") == "app_credentials"
        self._app_secret = str(credentials.get("app_secret") or "") if uses_app_secret else ""
        self._timed = bool(credentials.get("use_appsecret_time"))

    @property
    def auth_header(self) -> str:
        """Graph accepts OAuth 2 bearer tokens in the Authorization header."""
        return "Authorization"

    @property
    def token(self) -> str:
        """The header value; fails as a config error when no token is configured."""
        if not self._access_token:
            raise AirbyteTracedException(
                message=(
                    "Graph API credentials are not configured: set credentials.access_token to "
                    "read the pixels, pixel_stats and dataset_quality streams."
                ),
                internal_message="credentials.access_token is empty or missing",
                failure_type=FailureType.config_error,
            )
        return f"Bearer {self._access_token}"

    def proof_params(self) -> dict[str, str]:
        """``appsecret_proof`` (and ``appsecret_time``) for a request sent now; empty without
        app credentials."""
        if not self._app_secret or not self._access_token:
            return {}
        return proof_params(self._app_secret, self._access_token, _unix_time() if self._timed else None)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Set the bearer header and replace any proof in the URL with one computed now."""
        request.headers.update(self.get_auth_header())
        proof = self.proof_params()
        if proof and request.url:
            parts = urlsplit(request.url)
            query = [
                (key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True) if key not in PROOF_PARAMS
            ]
            query.extend(proof.items())
            request.url = urlunsplit(parts._replace(query=urlencode(query)))
        return request


@dataclass
class GraphUsageBackoffStrategy(BackoffStrategy):
    """How long to wait before retrying, as Meta's usage headers advise (fact sheet §6.3).

    Why not ``WaitTimeFromHeader``: Meta's wait is not a header value but a field inside JSON
    headers (``estimated_time_to_regain_access``, in minutes, per business object in
    ``X-Business-Use-Case-Usage``), to be combined with ``X-App-Usage`` and
    ``X-Ad-Account-Usage``; and when Meta gives no guidance the retry needs *jittered*
    exponential backoff, which ``ExponentialBackoffStrategy`` does not do.
    """

    config: Config
    parameters: InitVar[Mapping[str, Any]]

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        # Jitter spreads concurrent partitions' retries; it needs no cryptographic strength.
        self._rng = random.Random()

    def backoff_time(
        self,
        response_or_exception: Optional[Union[requests.Response, requests.RequestException]],
        attempt_count: int,
    ) -> Optional[float]:
        """Seconds to wait before retry ``attempt_count`` (1-based); never None."""
        usage = EMPTY_USAGE
        error_class = ErrorClass.TRANSIENT
        if isinstance(response_or_exception, requests.Response):
            usage = parse_usage_headers(response_or_exception.headers)
            error_class = classify(_graph_error_of(response_or_exception))
        if not error_class.retryable:
            # Only the error handler decides what is retried; whatever it chose to retry
            # backs off like a transient error.
            error_class = ErrorClass.TRANSIENT
        return backoff_seconds(max(1, attempt_count), error_class, usage, self._rng, READ_BACKOFF_POLICY)


@dataclass
class GraphApiErrorHandler(DefaultErrorHandler):
    """Meta's error policy for Graph reads (fact sheet §6), on top of ``DefaultErrorHandler``.

    Why the built-in is not enough:

    - Graph says what went wrong in the body's ``error.code`` / ``error_subcode`` /
      ``is_transient`` (190 bad token, 100/33 no access to the pixel, 4/17/32/341/613/800xx
      throttled, ...), and the user message must name the pixel. ``HttpResponseFilter`` can
      match the code but its message only sees the URL without its query string, where
      dataset_quality carries the pixel (``dataset_id``). The classification itself is
      ``capi.graph_errors.classify``, shared with push mode.
    - A lockout longer than the CDK's fixed 600 s retry budget would be slept into and then
      surface as "exhausted request attempts"; here it fails at once as a *transient* error
      whose message says when Meta expects access to return.
    - Pacing before the limit is hit needs a hook on every response, successes included;
      ``interpret_response`` is the only one the CDK calls for each response.
    - Failures are raised here as ``AirbyteTracedException`` rather than returned as a FAIL
      resolution: on that path the CDK writes Meta's raw error message into the trace's
      ``internal_message`` without its secret filter, and Meta's 190 messages can quote the
      token ("Malformed access token EAA…").

    ``response_filters`` and ``backoff_strategies`` from the manifest still apply: filters
    first, for successes and for failures that are not Graph errors (timeouts, resets).
    """

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        credentials = _credentials(self.config)
        # Masked wherever they appear: Meta's messages can quote a token with no known prefix.
        self._secrets = tuple(str(credentials[key]) for key in ("access_token", "app_secret") if credentials.get(key))

    def interpret_response(
        self, response_or_exception: Optional[Union[requests.Response, Exception]]
    ) -> ErrorResolution:
        """Classify one response (or transport exception) into a CDK ``ErrorResolution``."""
        if not isinstance(response_or_exception, requests.Response):
            # Timeouts and connection resets: the CDK's default mapping retries them.
            return super().interpret_response(response_or_exception)
        response = response_or_exception
        usage = parse_usage_headers(response.headers)
        error = _graph_error_of(response) if _is_error(response) else None
        if error is None:
            self._pace(usage, response)
            return super().interpret_response(response)
        return self._resolve(error, usage, response)

    def _pace(self, usage: UsageSnapshot, response: requests.Response) -> None:
        delay = pacing_delay(usage, READ_BACKOFF_POLICY)
        if delay > 0:
            # Meta throttles at 100 % of any gauge; slowing down from 75 % avoids the lockout.
            LOGGER.info(
                json.dumps(
                    {
                        "event": "graph_api_pacing",
                        "pixel_id": pixel_id_of_url(_request_url(response)),
                        "usage_pct": usage.max_usage_pct,
                        "pause_seconds": round(delay, 3),
                    }
                )
            )
            _sleep(delay)

    def _resolve(self, error: GraphError, usage: UsageSnapshot, response: requests.Response) -> ErrorResolution:
        pixel_id = pixel_id_of_url(_request_url(response))
        error_class = classify(error)
        if error_class is ErrorClass.AUTH:
            _fail(FailureType.config_error, describe_for_user(error, pixel_id), error, response, self._secrets)
        if error_class in (ErrorClass.THROTTLED, ErrorClass.POLICY_BLOCK):
            wait = max(usage.regain_access_seconds, usage.retry_after_seconds)
            if wait > self.max_time:
                _fail(
                    FailureType.transient_error, _lockout_message(error, pixel_id, wait), error, response, self._secrets
                )
            return ErrorResolution(
                response_action=ResponseAction.RATE_LIMITED,
                failure_type=FailureType.transient_error,
                error_message=redact_secrets(describe_for_user(error, pixel_id), self._secrets),
            )
        if error_class is ErrorClass.TRANSIENT:
            return ErrorResolution(
                response_action=ResponseAction.RETRY,
                failure_type=FailureType.transient_error,
                error_message=redact_secrets(describe_for_user(error, pixel_id), self._secrets),
            )
        if error.code == 100:
            # On the read side an invalid parameter comes from the configuration (pixel id,
            # API version, an aggregation that version does not know), not from event data.
            message = (
                f"Meta rejected the request for pixel {pixel_id} ({error.code_label}): "
                f"{error.message} Check the pixel id, the Graph API version and the "
                "pixel_stats aggregations in the configuration."
                + (f" (fbtrace_id {error.fbtrace_id})" if error.fbtrace_id else "")
            )
            _fail(FailureType.config_error, message, error, response, self._secrets)
        _fail(FailureType.system_error, describe_for_user(error, pixel_id), error, response, self._secrets)


def _fail(
    failure_type: FailureType,
    message: str,
    error: GraphError,
    response: requests.Response,
    secrets: tuple[str, ...],
) -> NoReturn:
    """Raise the failure with token-free messages; the internal one names the request path,
    never its query (which carries the proof)."""
    request = response.request
    path = urlsplit(_request_url(response) or "").path
    internal = (
        f"{request.method if request is not None else 'GET'} {path} failed: HTTP {response.status_code}, "
        f"Graph error {error.code_label}, {error.message}"
        + (f" (fbtrace_id {error.fbtrace_id})" if error.fbtrace_id else "")
    )
    raise AirbyteTracedException(
        message=redact_secrets(message, secrets),
        internal_message=redact_secrets(internal, secrets),
        failure_type=failure_type,
    )


def _lockout_message(error: GraphError, pixel_id: str, wait_seconds: float) -> str:
    back_at = datetime.now(UTC) + timedelta(seconds=wait_seconds)
    minutes = max(1, round(wait_seconds / 60))
    return redact_secrets(
        f"Meta's rate limit locked this app out ({error.code_label}) while reading pixel "
        f"{pixel_id}. Meta estimates access returns in about {minutes} minutes, around "
        f"{back_at:%Y-%m-%d %H:%M} UTC, longer than a sync waits. Run the sync again after "
        "that; it resumes from its last saved state."
    )


def _request_url(response: requests.Response) -> Optional[str]:
    request = response.request
    return request.url if request is not None else response.url


def _is_error(response: requests.Response) -> bool:
    """A non-2xx response, or a 2xx that is not Graph JSON (an HTML page from a proxy) or
    that carries Graph's error envelope."""
    if not response.ok:
        return True
    head = response.content.lstrip()[:16]
    if not head:
        return False
    if head[:1] not in (b"{", b"["):
        return True
    # Graph writes compact JSON with `error` as the only key; no full parse of large pages.
    return head.startswith(b'{"error"')


def _graph_error_of(response: requests.Response) -> GraphError:
    error = parse_graph_error(response.status_code, response.headers, response.content)
    if response.ok and error.code is None:
        # A 2xx whose body is not Graph JSON: what proxies and outages produce, retry it.
        return replace(error, is_transient=True)
    return error


@dataclass
class GraphNextPageStrategy(PaginationStrategy):
    """Follow Graph's ``paging.next`` link, but only to the configured Graph host (§8.5).

    Why not ``CursorPagination``: ``paging.next`` is an absolute URL read from the response
    body, and following it blindly would send the bearer token and proof to whatever host
    the body names. A ``stop_condition`` could only stop quietly and drop the remaining pages;
    this strategy fails the sync instead, naming the host. An absent ``next`` is the last page
    (short or empty pages are normal: Meta filters for privacy).
    """

    config: Config
    parameters: InitVar[Mapping[str, Any]]

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        self._allowed_origin = url_origin(_graph_base_url(self.config))

    @property
    def initial_token(self) -> Optional[Any]:
        """Graph's first page needs no token."""
        return None

    def next_page_token(
        self,
        response: requests.Response,
        last_page_size: int,
        last_record: Optional[Record],
        last_page_token_value: Optional[Any],
        page_size_override: Optional[int] = None,
        stream_slice: Optional[StreamSlice] = None,
    ) -> Optional[Any]:
        """The ``paging.next`` URL to request next, or None on the last page."""
        try:
            body = response.json()
        except ValueError:
            return None
        paging = body.get("paging") if isinstance(body, Mapping) else None
        next_url = paging.get("next") if isinstance(paging, Mapping) else None
        if not isinstance(next_url, str) or not next_url:
            return None
        if url_origin(next_url) != self._allowed_origin:
            scheme, host, port = url_origin(next_url)
            allowed_scheme, allowed_host, allowed_port = self._allowed_origin
            # Only scheme/host/port are named: the link's query could carry credentials.
            raise AirbyteTracedException(
                message=(
                    f"The Graph API returned a next-page link to {scheme}://{host}:{port}, not "
                    f"the configured Graph host {allowed_scheme}://{allowed_host}:{allowed_port}; "
                    "the connector does not follow it. Check graph_api.base_url."
                ),
                internal_message="paging.next points outside graph_api.base_url",
                failure_type=FailureType.system_error,
            )
        return next_url

    def get_page_size(self) -> Optional[int]:
        """Graph picks the page size; none is requested."""
        return None
