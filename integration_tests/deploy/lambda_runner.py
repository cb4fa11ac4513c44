"""Runs inside a fresh interpreter whose only importable code is the unpacked Lambda package.

    python -S -s lambda_runner.py HANDLER < request.json > report.json

Resolves HANDLER (`module.attribute`) the way the Lambda runtime does, invokes it with each
event of the request in order, and reports the answers plus what the interpreter loaded. Only
the standard library is used here: nothing else is importable besides the package.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from typing import Any

WATCHED = (
    "source_meta_capi",
    "starlette",
    "mangum",
    "boto3",
    "botocore",
    "orjson",
    "phonenumbers",
    "pycountry",
    "pydantic",
    "pydantic_core",
)
FORBIDDEN = ("airbyte_cdk", "airbyte_protocol", "uvicorn", "pendulum")


class FakeContext:
    """The attributes of a Lambda context object that adapters read."""

    function_name = "meta-capi-receiver"
    function_version = "$LATEST"
    memory_limit_in_mb = 1024
    aws_request_id = "8f5b2d4e-0000-4000-8000-000000000000"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:meta-capi-receiver"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def main() -> int:
    handler_path = sys.argv[1]
    request = json.load(sys.stdin)
    module_name, _, attribute = handler_path.rpartition(".")
    handler = getattr(importlib.import_module(module_name), attribute)
    answers: list[Any] = [handler(event, FakeContext()) for event in request["events"]]
    report = {
        "answers": answers,
        "sys_path": sys.path,
        "site_loaded": "site" in sys.modules,
        "module_files": {name: getattr(sys.modules.get(name), "__file__", None) for name in WATCHED},
        "forbidden_loaded": sorted(m for m in sys.modules if m.split(".")[0] in FORBIDDEN),
        "forbidden_importable": sorted(name for name in FORBIDDEN if importlib.util.find_spec(name) is not None),
        "source_modules_loaded": sorted(
            m
            for m in sys.modules
            if m.startswith("source_meta_capi.") and m.split(".")[1] not in ("receiver", "capi", "staging")
        ),
    }
    sys.stdout.write(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
