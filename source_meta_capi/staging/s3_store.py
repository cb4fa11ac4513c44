"""The S3 store (AWS S3 or any S3-compatible server), through boto3."""

from __future__ import annotations

import time
from typing import Any, Iterator, Optional

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

from source_meta_capi.staging.store import (
    ObjectNotFoundError,
    S3Options,
    StoreAccessError,
    StoreError,
    StoreUnavailableError,
)

# The one object /readyz may create, and how long its verdict stands (see check_writable).
WRITE_PROBE_KEY = "_probes/writable"
WRITE_PROBE_INTERVAL_S = 300.0

_ACCESS_CODES = {
    "AccessDenied",
    "AllAccessDisabled",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "NoSuchBucket",
    "InvalidBucketName",
    "AccountProblem",
    "ExpiredToken",
    "InvalidToken",
    "PermanentRedirect",
    "AuthorizationHeaderMalformed",
}


class S3Store:
    """A bucket and prefix on S3. Write-once through conditional puts (`If-None-Match: *`)."""

    def __init__(self, bucket: str, prefix: str, options: S3Options) -> None:
        self._bucket = bucket
        self._prefix = f"{prefix}/" if prefix else ""
        self._options = options
        session = boto3.session.Session(
            aws_access_key_id=options.aws_access_key_id,
            aws_secret_access_key=options.aws_secret_access_key,
            region_name=options.region,
        )
        self._client: Any = session.client(
            "s3",
            endpoint_url=options.endpoint_url,
            config=Config(
                connect_timeout=options.connect_timeout_s,
                read_timeout=options.read_timeout_s,
                retries={"max_attempts": options.max_attempts, "mode": "standard"},
                max_pool_connections=64,
            ),
        )
        self._writable_until = 0.0

    @property
    def url(self) -> str:
        return f"s3://{self._bucket}/{self._prefix}".rstrip("/")

    def put_if_absent(self, key: str, data: bytes) -> bool:
        try:
            self._client.put_object(Bucket=self._bucket, Key=self._prefix + key, Body=data, IfNoneMatch="*")
            return True
        except ClientError as error:
            code = _code(error)
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code == "PreconditionFailed" or status == 412:
                return False
            # 409 ConditionalRequestConflict: a concurrent conditional put on the same key is in
            # flight; whoever finishes first wins, so report "not ours" only after re-checking.
            if code == "ConditionalRequestConflict" or status == 409:
                raise StoreUnavailableError(f"Concurrent write to {key} in {self.url}; retry") from error
            raise self._translate(error, f"write {key}") from error
        except (BotoCoreError, NoCredentialsError) as error:
            raise self._translate(error, f"write {key}") from error

    def get(self, key: str) -> bytes:
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=self._prefix + key)
            body: bytes = response["Body"].read()
            return body
        except ClientError as error:
            if _code(error) in ("NoSuchKey", "404"):
                raise ObjectNotFoundError(f"{key} does not exist in {self.url}") from error
            raise self._translate(error, f"read {key}") from error
        except (BotoCoreError, NoCredentialsError) as error:
            raise self._translate(error, f"read {key}") from error

    def list_keys(self, prefix: str, start_after: Optional[str] = None) -> Iterator[str]:
        kwargs: dict[str, Any] = {"Bucket": self._bucket, "Prefix": self._prefix + prefix}
        if start_after is not None:
            kwargs["StartAfter"] = self._prefix + start_after
        for page in self._pages(kwargs, f"list {prefix}"):
            for item in page.get("Contents", []):
                yield item["Key"][len(self._prefix) :]

    def list_children(self, prefix: str, start_after: Optional[str] = None) -> Iterator[str]:
        kwargs: dict[str, Any] = {"Bucket": self._bucket, "Prefix": self._prefix + prefix, "Delimiter": "/"}
        if start_after is not None:
            kwargs["StartAfter"] = self._prefix + start_after
        for page in self._pages(kwargs, f"list {prefix}"):
            for item in page.get("CommonPrefixes", []):
                yield item["Prefix"][len(self._prefix) :]

    def _pages(self, kwargs: dict[str, Any], action: str) -> Iterator[dict[str, Any]]:
        try:
            while True:
                page: dict[str, Any] = self._client.list_objects_v2(**kwargs)
                yield page
                if not page.get("IsTruncated"):
                    return
                kwargs["ContinuationToken"] = page["NextContinuationToken"]
        except ClientError as error:
            raise self._translate(error, action) from error
        except (BotoCoreError, NoCredentialsError) as error:
            raise self._translate(error, action) from error

    def check_writable(self) -> None:
        """Raise StoreError unless this process can write to the bucket.

        Honest on S3 only by writing: a conditional PUT of one fixed probe key (`_probes/writable`),
        which succeeds once and then answers 412 while writes are allowed and 403 when they are
        not; nothing else is ever created. A PUT costs money, so the verdict is kept for
        WRITE_PROBE_INTERVAL_S: a /readyz every 10 s costs one PUT per 5 minutes (288 a day).
        """
        now = time.monotonic()
        if self._writable_until > now:
            return
        self.put_if_absent(WRITE_PROBE_KEY, b"{}\n")
        self._writable_until = now + WRITE_PROBE_INTERVAL_S

    def check(self) -> None:
        try:
            self._client.list_objects_v2(Bucket=self._bucket, Prefix=self._prefix, MaxKeys=1)
        except ClientError as error:
            raise self._translate(error, "list") from error
        except (BotoCoreError, NoCredentialsError) as error:
            raise self._translate(error, "list") from error

    def _translate(self, error: Exception, action: str) -> StoreError:
        where = f"{self.url}" + (f" (endpoint {self._options.endpoint_url})" if self._options.endpoint_url else "")
        if isinstance(error, NoCredentialsError):
            return StoreAccessError(
                f"Cannot {action} in {where}: no AWS credentials found; set an access key or give the worker an IAM role."
            )
        if isinstance(error, EndpointConnectionError):
            return StoreUnavailableError(f"Cannot {action} in {where}: the endpoint is unreachable.")
        if isinstance(error, ClientError):
            code = _code(error)
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code in _ACCESS_CODES or status in (301, 403):
                hint = {
                    "NoSuchBucket": "the bucket does not exist",
                    "InvalidAccessKeyId": "the access key id is not known",
                    "SignatureDoesNotMatch": "the secret access key is wrong",
                    "AccessDenied": "access denied: grant s3:ListBucket, s3:GetObject (and s3:PutObject for writers)",
                }.get(code, code)
                return StoreAccessError(f"Cannot {action} in {where}: {hint}.")
            return StoreUnavailableError(f"Cannot {action} in {where}: {code or status}.")
        return StoreUnavailableError(f"Cannot {action} in {where}: {type(error).__name__}.")


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
