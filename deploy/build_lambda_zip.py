"""Build the receiver's AWS Lambda package: `build/receiver-lambda.zip` (`make lambda-zip`).

    python deploy/build_lambda_zip.py [--arch x86_64|arm64] [--output build/receiver-lambda.zip]

What goes in: the pinned closure of `deploy/receiver-requirements.txt` as manylinux wheels for the
Lambda architecture and Python 3.11 (never the build machine's own packages), plus the parts of
`source_meta_capi` the receiver runs: `receiver/`, `capi/`, `staging/` and the package's
`__init__.py`. The Airbyte source (`source.py`, `components.py`, streams, manifest, schemas) and
airbyte-cdk stay out; the build fails if either shows up.

Reproducible: wheels are downloaded once into `build/lambda-wheels/<arch>/` (keyed by the
requirements file's digest) and installed from there without an index; bytecode is compiled as
hash-based pycs naming /var/task paths; entries are sorted, with one fixed timestamp and fixed
permissions. Two builds of the
same tree give the same bytes (the printed sha256 shows it).

Size budget (checked; the build fails above it): the zip at most `ZIP_BUDGET_BYTES`, unpacked at
most `UNPACKED_BUDGET_BYTES`. Lambda's own limits are 50 MB zipped for a direct upload and 250 MB
unpacked; the budget keeps cold starts short and leaves room. Data the receiver never reads is
pruned (see `PRUNED`): phone-number geocoding/carrier/time-zone data, pycountry's translations,
pydantic's v1 API, experimental APIs and mypy plugin, and botocore's models of services other
than the ones the receiver and the SDK's credential chain call.
"""

from __future__ import annotations

import argparse
import compileall
import hashlib
import json
import os
import py_compile
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "deploy" / "receiver-requirements.txt"
PACKAGE = "source_meta_capi"
# Only these parts of the package run on Lambda; everything else in it belongs to the source.
PACKAGE_PARTS = ("__init__.py", "py.typed", "receiver", "capi", "staging")
FORBIDDEN_TOP_LEVEL = ("airbyte_cdk", "airbyte_protocol", "uvicorn", "pytest", "moto")
FORBIDDEN_PACKAGE_MODULES = ("source.py", "components.py", "push", "manifest.yaml", "run.py")

ZIP_BUDGET_BYTES = 10 * 1024 * 1024
UNPACKED_BUDGET_BYTES = 40 * 1024 * 1024
# 1980-01-01, the earliest time a zip entry can carry: no build's clock leaks into the artifact.
FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)

LAMBDA_PYTHON = (3, 11)
LAMBDA_TASK_ROOT = "/var/task"
PLATFORMS = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}
# botocore service models kept. s3, sqs (queue intake) and secretsmanager are what the receiver calls; sts, sso and
# sso-oidc are what boto3's credential chain may call (assume-role profiles, SSO) off Lambda.
BOTOCORE_SERVICES = ("s3", "sqs", "secretsmanager", "sts", "sso", "sso-oidc")
# Paths (relative to the install root) removed after install: data the receiver never loads.
PRUNED = (
    "bin",  # console scripts of the dependencies
    "phonenumbers/geodata",  # phonenumbers.geocoder: never imported (E.164 formatting only)
    "phonenumbers/carrierdata",  # phonenumbers.carrier: never imported
    "phonenumbers/tzdata",  # phonenumbers.timezone: never imported
    "pycountry/locales",  # translations of country names; lookups read pycountry/databases
    "pydantic/v1",  # the pydantic 1 API, loaded only for models written against it (none here)
    "pydantic/experimental",  # opt-in APIs the settings model does not use
    "pydantic/mypy.py",  # the mypy plugin: type checking, not runtime
)


class BuildError(Exception):
    """The package cannot be built, or breaks its budget or content rules; the message says which."""


def requirements_digest(path: Path = REQUIREMENTS) -> str:
    """sha256 of the requirements file, which keys the wheel cache."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def download_wheels(arch: str, wheel_dir: Path, requirements: Path = REQUIREMENTS) -> None:
    """Fetch the pinned wheels for the Lambda platform once; later builds reuse them offline."""
    stamp = wheel_dir / ".requirements-sha256"
    digest = requirements_digest(requirements)
    if stamp.exists() and stamp.read_text().strip() == digest:
        return
    if wheel_dir.exists():
        shutil.rmtree(wheel_dir)
    wheel_dir.mkdir(parents=True)
    _pip(
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--platform",
        PLATFORMS[arch],
        "--python-version",
        "3.11",
        "--implementation",
        "cp",
        "--abi",
        "cp311",
        "--dest",
        str(wheel_dir),
        "--requirement",
        str(requirements),
    )
    stamp.write_text(digest + "\n")


def install_tree(wheel_dir: Path, tree: Path, requirements: Path = REQUIREMENTS) -> None:
    """Install the wheels and the receiver's part of the package into an empty `tree`."""
    if tree.exists():
        shutil.rmtree(tree)
    tree.mkdir(parents=True)
    _pip(
        "install",
        "--no-deps",
        "--no-index",
        "--no-compile",
        "--find-links",
        str(wheel_dir),
        "--target",
        str(tree),
        "--requirement",
        str(requirements),
    )
    for relative in PRUNED:
        _remove(tree / relative)
    models = tree / "botocore" / "data"
    if models.is_dir():
        for entry in models.iterdir():
            if entry.is_dir() and entry.name not in BOTOCORE_SERVICES:
                shutil.rmtree(entry)
    source = ROOT / PACKAGE
    for part in PACKAGE_PARTS:
        origin = source / part
        if origin.is_dir():
            shutil.copytree(origin, tree / PACKAGE / part, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif origin.is_file():
            (tree / PACKAGE).mkdir(exist_ok=True)
            shutil.copy2(origin, tree / PACKAGE / part)
    for cache in sorted(tree.rglob("__pycache__"), reverse=True):
        shutil.rmtree(cache)
    compile_tree(tree)


def compile_tree(tree: Path) -> None:
    """Precompile bytecode: /var/task is read-only, so without it every cold start compiles botocore
    and the app again. Hash-based pycs (PEP 552) carry no timestamps, and the recorded file names
    are those Lambda sees, so the bytes do not depend on when or where the build ran."""
    if sys.version_info[:2] != LAMBDA_PYTHON:
        raise BuildError(
            f"bytecode must be compiled by Python {LAMBDA_PYTHON[0]}.{LAMBDA_PYTHON[1]} (the Lambda runtime), not {sys.version.split()[0]}"
        )
    compiled = compileall.compile_dir(
        str(tree),
        quiet=2,
        stripdir=str(tree),
        prependdir=LAMBDA_TASK_ROOT,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        workers=1,
    )
    if not compiled:
        raise BuildError("compiling the package's bytecode failed")


def check_tree(tree: Path) -> None:
    """Refuse a tree that carries the source, the CDK or a server the receiver does not need."""
    for name in FORBIDDEN_TOP_LEVEL:
        if (tree / name).exists():
            raise BuildError(f"{name} must not be in the Lambda package (the receiver never imports it)")
    for name in FORBIDDEN_PACKAGE_MODULES:
        if (tree / PACKAGE / name).exists():
            raise BuildError(f"{PACKAGE}/{name} belongs to the Airbyte source, not the Lambda package")
    if not (tree / PACKAGE / "receiver" / "lambda_handler.py").is_file():
        raise BuildError(f"{PACKAGE}/receiver/lambda_handler.py is missing from the package")


def tree_files(tree: Path) -> Iterator[tuple[str, Path]]:
    """(archive name, path) of every file under `tree`, sorted by archive name."""
    files = [(path.relative_to(tree).as_posix(), path) for path in tree.rglob("*") if path.is_file()]
    yield from sorted(files)


def write_zip(tree: Path, output: Path) -> None:
    """Zip `tree` deterministically: sorted names, fixed time and permissions, max compression."""
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, path in tree_files(tree):
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            # Lambda needs files world-readable; nothing in the package is executed directly.
            info.external_attr = (0o100644 & 0xFFFF) << 16
            info.create_system = 3  # unix, so the permissions above are honoured when unpacked
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    partial.replace(output)


def measure(output: Path) -> dict[str, int | str]:
    """Zipped and unpacked size, file count and sha256 of a built package."""
    with zipfile.ZipFile(output) as archive:
        infos = archive.infolist()
    return {
        "path": str(output),
        "zip_bytes": output.stat().st_size,
        "unpacked_bytes": sum(info.file_size for info in infos),
        "files": len(infos),
        "sha256": hashlib.sha256(output.read_bytes()).hexdigest(),
    }


def check_budget(summary: dict[str, int | str]) -> None:
    """Fail when the package outgrows its documented budget."""
    zipped, unpacked = int(summary["zip_bytes"]), int(summary["unpacked_bytes"])
    if zipped > ZIP_BUDGET_BYTES:
        raise BuildError(f"the zip is {zipped} bytes, over its budget of {ZIP_BUDGET_BYTES} bytes")
    if unpacked > UNPACKED_BUDGET_BYTES:
        raise BuildError(f"the package unpacks to {unpacked} bytes, over its budget of {UNPACKED_BUDGET_BYTES} bytes")


def build(arch: str, output: Path, work: Path) -> dict[str, int | str]:
    """Download (once), install, check, zip and measure; returns the summary."""
    if arch not in PLATFORMS:
        raise BuildError(f"--arch must be one of {', '.join(PLATFORMS)}, got {arch!r}")
    wheel_dir = work / "lambda-wheels" / arch
    tree = work / "lambda-tree" / arch
    download_wheels(arch, wheel_dir)
    install_tree(wheel_dir, tree)
    check_tree(tree)
    write_zip(tree, output)
    summary = measure(output)
    summary["arch"] = arch
    check_budget(summary)
    return summary


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def _pip(*args: str) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet", *args]
    # Keep the host's own configuration (a private index, a CA bundle) but never its target dir.
    env = {key: value for key, value in os.environ.items() if key != "PIP_TARGET"}
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BuildError(f"pip {args[0]} failed ({result.returncode}):\n{result.stderr.strip()}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; prints the summary as JSON and returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="x86_64", choices=sorted(PLATFORMS), help="Lambda architecture")
    parser.add_argument("--output", type=Path, default=ROOT / "build" / "receiver-lambda.zip")
    parser.add_argument("--work", type=Path, default=ROOT / "build", help="where wheels and the tree are kept")
    args = parser.parse_args(argv)
    try:
        summary = build(args.arch, args.output, args.work)
    except BuildError as error:
        sys.stderr.write(f"lambda-zip: {error}\n")
        return 1
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
