"""Queue intake (`META_CAPI_INTAKE_MODE=queue`): a processed request becomes one SQS message.

On Lambda, requests do not share a process, so group commit cannot batch their writes; SQS does
(DESIGN.md, "Throughput and cost"). The API Lambda verifies, validates and hashes as in direct
mode, then makes exactly one durable write per request, `SendMessage`, before its 2xx; the batch
Lambda (batch_handler.py) stages up to thousands of messages per object and forwards them to
Meta. A failed send is a 503 with Retry-After, like a failed S3 write: a retry is enqueued again
and keeps its event identities (staging-format.md, "Retries are safe").

The message carries what the batch Lambda needs and nothing it can recompute: the request's
context, its events and dead letters as the records pipeline.py encoded (written into the
message as they are, not encoded again), and the events to forward when forwarding is
configured for the pixel. Body: `gzip` of that JSON, base64 (SQS bodies are XML-safe text;
compression keeps a single-event request near 1 KiB, well inside one 64 KiB billing chunk).
No airbyte_cdk: this module ships in the Lambda zip.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import zlib
from dataclasses import dataclass
from typing import Any, Optional

import boto3
import orjson
from botocore.config import Config

from source_meta_capi.receiver.pipeline import Intake
from source_meta_capi.staging.records import encode_line
from source_meta_capi.staging.store import StoreUnavailableError

MESSAGE_VERSION = 1
# The attribute naming the body's encoding, so a later format can sit beside this one in a queue.
FORMAT_ATTRIBUTE = "meta_capi_format"
FORMAT_VALUE = f"request-v{MESSAGE_VERSION}+json+gzip+base64"
# Decompressed bodies past this are refused by the batch Lambda (a message holds one request,
# and requests are limited to a few MiB): a corrupt or hostile message cannot exhaust memory.
MAX_DECODED_BYTES = 64 * 1024 * 1024


class QueueUnavailableError(StoreUnavailableError):
    """SendMessage failed: nothing was accepted; the caller answers 503 and the client retries."""


class MessageFormatError(ValueError):
    """A queue message that is not a request this version wrote (the batch Lambda leaves it to the DLQ)."""


@dataclass(frozen=True)
class QueuedRequest:
    """A request as the batch Lambda reads it back from its message."""

    pixel_id: str
    batch_id: str
    request_id: str
    test_event_code: Optional[str]
    partner_agent: Optional[str]
    event_lines: tuple[bytes, ...]
    letter_lines: tuple[bytes, ...]
    forward: tuple[dict[str, Any], ...]


def encode_message(intake: Intake, *, with_forward: bool) -> str:
    """The message body of a processed request (see the module docstring for the format)."""
    context = intake.context
    head = orjson.dumps(
        {
            "v": MESSAGE_VERSION,
            "pixel_id": context.pixel_id,
            "batch_id": context.batch_id,
            "request_id": context.request_id,
            "test_event_code": intake.test_event_code,
            "partner_agent": intake.partner_agent,
        }
    )
    event_lines = [event.line or encode_line(event.record) for event in intake.accepted]
    letter_lines = list(intake.dead_letter_lines) or [encode_line(letter) for letter in intake.dead_letters]
    forward = [event.forward for event in intake.accepted] if with_forward else []
    body = b"".join(
        [
            head[:-1],
            b',"events":[',
            b",".join(event_lines),
            b'],"dead_letters":[',
            b",".join(letter_lines),
            b'],"forward":',
            orjson.dumps(forward),
            b"}",
        ]
    )
    return base64.b64encode(gzip.compress(body, compresslevel=1, mtime=0)).decode("ascii")


def decode_message(body: str) -> QueuedRequest:
    """Read a message back; MessageFormatError for anything this version did not write."""
    try:
        compressed = base64.b64decode(body, validate=True)
        decompressor = zlib.decompressobj(wbits=31)
        raw = decompressor.decompress(compressed, MAX_DECODED_BYTES)
        if decompressor.unconsumed_tail or not decompressor.eof:
            raise MessageFormatError("not a complete gzip body, or larger than the limit")
        data = orjson.loads(raw)
    except (binascii.Error, ValueError, zlib.error) as error:
        if isinstance(error, MessageFormatError):
            raise
        raise MessageFormatError(f"not a request message: {type(error).__name__}") from None
    if not isinstance(data, dict) or data.get("v") != MESSAGE_VERSION:
        raise MessageFormatError("not a request message of version 1")
    try:
        return QueuedRequest(
            pixel_id=str(data["pixel_id"]),
            batch_id=str(data["batch_id"]),
            request_id=str(data["request_id"]),
            test_event_code=data.get("test_event_code"),
            partner_agent=data.get("partner_agent"),
            # Records were encoded by encode_line before they were sent; orjson gives the same
            # bytes back for them (key order and numbers survive a round trip).
            event_lines=tuple(encode_line(record) for record in data["events"]),
            letter_lines=tuple(encode_line(letter) for letter in data["dead_letters"]),
            forward=tuple(data.get("forward") or ()),
        )
    except (KeyError, TypeError) as error:
        raise MessageFormatError(f"request message without {error}") from None


class QueueSender:
    """Sends request messages to one SQS queue. Thread-safe (boto3 clients are)."""

    def __init__(
        self,
        queue_url: str,
        *,
        endpoint_url: Optional[str] = None,
        region: Optional[str] = None,
        aws_access_key_id: Optional[str] = None,
        aws_secret_access_key: Optional[str] = None,
        client: Any = None,
    ) -> None:
        self._queue_url = queue_url
        if client is None:
            session = boto3.session.Session(
                aws_access_key_id=aws_access_key_id,
                aws_secret_access_key=aws_secret_access_key,
                region_name=region,
            )
            # Short timeouts and few retries: the caller is waiting, and a 503 lets it retry.
            client = session.client(
                "sqs",
                endpoint_url=endpoint_url,
                config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"}),
            )
        self._client = client

    def send(self, body: str) -> str:
        """SendMessage; the message id. Raises QueueUnavailableError when SQS did not take it."""
        try:
            answer = self._client.send_message(
                QueueUrl=self._queue_url,
                MessageBody=body,
                MessageAttributes={FORMAT_ATTRIBUTE: {"DataType": "String", "StringValue": FORMAT_VALUE}},
            )
        except Exception as error:  # botocore's errors have no common base worth naming here
            raise QueueUnavailableError(f"SendMessage failed: {type(error).__name__}") from error
        return str(answer.get("MessageId", ""))
