"""PyAirbyte, driven as a user drives it: a script run by the Python of its own venv (`make pyairbyte`).

PyAirbyte pins dependencies that clash with the connector's, so it cannot be imported here; the
tests and the demo hand it a short script and read what the script prints.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Optional

PYAIRBYTE_PYTHON = Path(__file__).resolve().parents[2] / ".venv-pyairbyte" / "bin" / "python"


class PyAirbyteError(Exception):
    """The script exited non-zero; the message is the tail of its stdout and stderr."""


def run_pyairbyte(
    script: str,
    *args: str,
    cwd: Path,
    timeout: float,
    home: Optional[Path] = None,
    env: Optional[Mapping[str, str]] = None,
) -> str:
    """Run `script` (`args` are its sys.argv[1:]) offline, with no telemetry or UI; its stdout.

    `home`, when given, is the script's HOME: PyAirbyte installs connectors and caches under it.
    """
    environ = {**os.environ, "AIRBYTE_OFFLINE_MODE": "1", "DO_NOT_TRACK": "1", "AIRBYTE_NO_UI": "1", **(env or {})}
    if home is not None:
        environ["HOME"] = str(home)
    completed = subprocess.run(
        [str(PYAIRBYTE_PYTHON), "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environ,
        cwd=cwd,
        check=False,
    )
    if completed.returncode != 0:
        raise PyAirbyteError(completed.stdout[-2000:] + completed.stderr[-3000:])
    return completed.stdout
