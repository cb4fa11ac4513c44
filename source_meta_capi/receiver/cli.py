"""`meta-capi-receiver`: serve the receiver, run its jobs, and sign or send sample requests.

    meta-capi-receiver serve [--host H] [--port P] [--workers N]
    meta-capi-receiver redrive [--pixel ID ...] [--window-days N] [--dry-run]
    meta-capi-receiver reconcile [--pixel ID ...] [--window-days N] [--format json|table]
    meta-capi-receiver sign --body-file FILE [--secret whsec_… | --hub-secret S]
    meta-capi-receiver send-sample --url URL --pixel ID [--secret whsec_…] [--count N]
    meta-capi-receiver schemas publish|check [--registry NAME] [--endpoint-url URL]
    meta-capi-receiver env            # the environment variables, as a Markdown table

Configuration comes from the environment (see `env`); flags override host, port and workers.
Needs the `receiver` extra: pip install 'airbyte-source-meta-capi[receiver]'.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import sys
import time
import uuid
from collections.abc import Sequence
from typing import Any, Optional

from source_meta_capi.receiver import json_logging
from source_meta_capi.receiver.signatures import sign_hub, sign_standard_webhook

# Top-level modules of the `receiver` extra (pyproject.toml). The console script is installed
# with the distribution, the extra is not: check before anything imports them.
RECEIVER_EXTRA_MODULES = (
    "pydantic",
    "starlette",
    "uvicorn",
    "mangum",
    "prometheus_client",
    "phonenumbers",
    "pycountry",
)
INSTALL_HINT = "pip install 'airbyte-source-meta-capi[receiver]'"


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the console script; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    missing = missing_receiver_modules()
    if missing:
        sys.stderr.write(
            f"meta-capi-receiver needs the receiver extra, which is not installed (missing: {', '.join(missing)}): {INSTALL_HINT}\n"
        )
        return 1
    from source_meta_capi.receiver.settings import SettingsError

    try:
        status: int = args.run(args)
    except SettingsError as error:
        sys.stderr.write(f"configuration error: {error}\n")
        return 2
    return status


def missing_receiver_modules() -> list[str]:
    """The modules of the `receiver` extra that cannot be imported here."""
    missing = []
    for name in RECEIVER_EXTRA_MODULES:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    return missing


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="meta-capi-receiver", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP receiver under uvicorn")
    serve.add_argument("--host", help="bind address (default META_CAPI_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default META_CAPI_PORT or 8080)")
    serve.add_argument(
        "--workers", type=int, default=1, help="worker processes (each with its own group commit and forwarder)"
    )
    serve.set_defaults(run=_serve)

    for name, runner, text in (
        ("redrive", _redrive, "send pending batches and replay dead letters"),
        ("reconcile", _reconcile, "report staged vs forwarded vs delivered vs dead-lettered"),
    ):
        job = commands.add_parser(name, help=text)
        job.add_argument(
            "--pixel", action="append", help="limit to this pixel (repeatable); default: every pixel in the bucket"
        )
        job.add_argument(
            "--window-days", type=int, default=8, help="how far back to look (default 8; 63 to include physical_store)"
        )
        if name == "redrive":
            job.add_argument("--dry-run", action="store_true", help="count what would be sent; send nothing")
        else:
            job.add_argument("--format", choices=("json", "table"), default="json")
        job.set_defaults(run=runner)

    sign = commands.add_parser("sign", help="print the signature headers for a body")
    sign.add_argument("--body-file", required=True, help="file with the exact body ('-' for stdin)")
    sign.add_argument(
        "--secret", help="Standard Webhooks secret (whsec_…); default: first of META_CAPI_WEBHOOK_SECRETS"
    )
    sign.add_argument("--hub-secret", help="app secret: sign with X-Hub-Signature-256 instead")
    sign.add_argument("--id", default=None, help="webhook-id (default: random msg_…)")
    sign.set_defaults(run=_sign)

    sample = commands.add_parser("send-sample", help="send signed sample events to a running receiver")
    sample.add_argument("--url", default="http://127.0.0.1:8080", help="receiver base URL")
    sample.add_argument("--pixel", required=True, help="pixel id")
    sample.add_argument("--secret", help="whsec_ secret (default: first of META_CAPI_WEBHOOK_SECRETS; none = unsigned)")
    sample.add_argument("--count", type=int, default=3, help="events in the batch (1-1000)")
    sample.add_argument("--test-event-code", help="test_event_code to pass through to Meta")
    sample.set_defaults(run=_send_sample)

    schemas = commands.add_parser(
        "schemas", help="publish the record schemas to AWS Glue Schema Registry, or check them against it"
    )
    schemas.add_argument("action", choices=("publish", "check"))
    schemas.add_argument("--registry", help="registry name (default META_CAPI_SCHEMA_REGISTRY or meta-capi)")
    schemas.add_argument("--endpoint-url", help="Glue endpoint override (tests, moto)")
    schemas.add_argument("--region", help="AWS region (default: AWS_REGION or the default chain)")
    schemas.add_argument("--json", action="store_true", help="one JSON document instead of a line per schema")
    schemas.set_defaults(run=_schemas)

    env = commands.add_parser("env", help="list the environment variables")
    env.set_defaults(run=_env)
    return parser


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from source_meta_capi.receiver.settings import load_settings

    settings = load_settings(os.environ)
    json_logging.configure(settings.log_level)
    common: dict[str, Any] = {
        "host": args.host or settings.host,
        "port": args.port if args.port is not None else settings.port,
        "log_config": None,  # our JSON logging, configured above
        "access_log": False,  # the app logs each group commit, and each refused or failed request
        "timeout_graceful_shutdown": 15,  # let in-flight group commits finish
        "backlog": 2048,
        "server_header": False,
        # Hostile clients: an idle keep-alive connection is closed after 5 s
        # (META_CAPI_KEEP_ALIVE_S; behind a load balancer, above its idle timeout),
        # h11 refuses a header block past 16 KiB (the app answers 431 past that under httptools),
        # and the app gives a body META_CAPI_BODY_TIMEOUT_S to arrive.
        "timeout_keep_alive": settings.keep_alive_s,
        "h11_max_incomplete_event_size": 16 * 1024,
    }
    if args.workers > 1:
        # Each worker process builds its own runtime from the environment.
        uvicorn.run("source_meta_capi.receiver.cli:app_factory", factory=True, workers=args.workers, **common)
    else:
        from source_meta_capi.receiver.app import create_app

        app = create_app(settings)
        _freeze_startup_heap()
        uvicorn.run(app, **common)
    return 0


def _freeze_startup_heap() -> None:
    # Full collections walked every object alive since start-up (modules, settings, the country
    # and phone metadata): ~4 % of the server's CPU under load. Nothing of it is ever freed.
    gc.collect()
    gc.freeze()


def app_factory() -> Any:
    """The app of one uvicorn worker process (used with --workers)."""
    from source_meta_capi.receiver.app import create_app
    from source_meta_capi.receiver.settings import load_settings

    settings = load_settings(os.environ)
    json_logging.configure(settings.log_level)
    app = create_app(settings)
    _freeze_startup_heap()
    return app


def _runtime() -> Any:
    from source_meta_capi.receiver.runtime import build_runtime
    from source_meta_capi.receiver.settings import load_settings

    settings = load_settings(os.environ)
    json_logging.configure(settings.log_level)
    return build_runtime(settings)


def _redrive(args: argparse.Namespace) -> int:
    from source_meta_capi.receiver.jobs import redrive

    runtime = _runtime()
    try:
        report = redrive(runtime, pixels=args.pixel, window_days=args.window_days, dry_run=args.dry_run)
    finally:
        runtime.close()
    _out(json.dumps(report.as_json()))
    return 0


def _reconcile(args: argparse.Namespace) -> int:
    from source_meta_capi.receiver.jobs import reconcile

    runtime = _runtime()
    try:
        rows = reconcile(runtime, pixels=args.pixel, window_days=args.window_days)
    finally:
        runtime.close()
    if args.format == "json":
        for row in rows:
            _out(json.dumps(row.__dict__))
        return 0
    columns = [
        "pixel_id",
        "hour",
        "staged",
        "forwarded",
        "delivered",
        "rejected_by_meta",
        "dead_lettered",
        "pending",
        "intake_rejected",
    ]
    _out("  ".join(f"{c:>16}" for c in columns))
    for row in rows:
        _out("  ".join(f"{getattr(row, c)!s:>16}" for c in columns))
    return 0


def _first_secret(given: Optional[str]) -> Optional[str]:
    if given:
        return given
    configured = [s.strip() for s in os.environ.get("META_CAPI_WEBHOOK_SECRETS", "").split(",") if s.strip()]
    return configured[0] if configured and configured[0].startswith("whsec_") else None


def signed_headers(
    body: bytes, secret: Optional[str], hub_secret: Optional[str] = None, webhook_id: Optional[str] = None
) -> dict[str, str]:
    """Headers that sign `body` (Standard Webhooks, X-Hub-Signature-256, or none)."""
    headers = {"Content-Type": "application/json"}
    if hub_secret:
        headers["X-Hub-Signature-256"] = sign_hub(hub_secret, body)
    elif secret:
        msg_id = webhook_id or f"msg_{uuid.uuid4().hex}"
        timestamp = int(time.time())
        headers.update(
            {
                "webhook-id": msg_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": sign_standard_webhook(secret, msg_id, timestamp, body),
            }
        )
    return headers


def _sign(args: argparse.Namespace) -> int:
    if args.body_file == "-":
        body = sys.stdin.buffer.read()
    else:
        with open(args.body_file, "rb") as handle:
            body = handle.read()
    secret = _first_secret(args.secret)
    if not secret and not args.hub_secret:
        sys.stderr.write("give --secret whsec_… or --hub-secret (or set META_CAPI_WEBHOOK_SECRETS)\n")
        return 2
    _out(json.dumps(signed_headers(body, secret, args.hub_secret, args.id), indent=2))
    return 0


def sample_body(count: int, now: Optional[int] = None, test_event_code: Optional[str] = None) -> dict[str, Any]:
    """A CAPI request body of `count` realistic website events with raw (unhashed) user data."""
    moment = now or int(time.time())
    names = ("PageView", "ViewContent", "AddToCart", "Purchase")
    events = []
    for index in range(count):
        name = names[index % len(names)]
        event: dict[str, Any] = {
            "event_name": name,
            "event_time": moment - 60 + index % 60,
            "event_id": f"sample-{moment}-{index}",
            "action_source": "website",
            "event_source_url": f"https://shop.example.com/{name.lower()}",
            "user_data": {
                "em": f"Customer{index}@Example.com",
                "ph": "+1 (650) 555-1212",
                "fn": "Mary",
                "ln": "Smith",
                "ct": "Menlo Park",
                "st": "California",
                "zp": "94025-1234",
                "country": "United States",
                "client_ip_address": "2001:db8::7",
                "client_user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
                "fbp": f"fb.1.{moment * 1000}.{index}",
            },
            "custom_data": {
                "currency": "USD",
                "value": 10.0 + index,
                "content_ids": [f"SKU-{index}"],
                "content_type": "product",
            },
        }
        events.append(event)
    body: dict[str, Any] = {"data": events, "partner_agent": "samplesender_1_0"}
    if test_event_code:
        body["test_event_code"] = test_event_code
    return body


def _send_sample(args: argparse.Namespace) -> int:
    import requests

    body = json.dumps(sample_body(args.count, test_event_code=args.test_event_code)).encode("utf-8")
    headers = signed_headers(body, _first_secret(args.secret))
    response = requests.post(
        f"{args.url.rstrip('/')}/v1/pixels/{args.pixel}/events", data=body, headers=headers, timeout=30
    )
    _out(f"{response.status_code} {response.text}")
    return 0 if response.ok else 1


def _schemas(args: argparse.Namespace) -> int:
    from source_meta_capi.receiver import schema_registry
    from source_meta_capi.receiver.settings import load_settings

    # Only the registry's variable: the pipeline running this has no business resolving secrets.
    settings = load_settings({k: v for k, v in os.environ.items() if k == "META_CAPI_SCHEMA_REGISTRY"})
    return schema_registry.run(
        args.action,
        registry=args.registry or settings.schema_registry,
        endpoint_url=args.endpoint_url,
        region=args.region,
        as_json=args.json,
        out=sys.stdout,
        err=sys.stderr,
    )


def _env(args: argparse.Namespace) -> int:
    from source_meta_capi.receiver.env_table import env_table_markdown

    sys.stdout.write(env_table_markdown())
    return 0


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
