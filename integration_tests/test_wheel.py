"""The wheel PyPI serves and PyAirbyte installs (`airbyte-source-meta-capi`): built, checked with
twine, installed in a fresh venv, and run from there on the committed sample bucket."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_BUCKET = ROOT / "integration_tests" / "sample_bucket"
PYAIRBYTE_PYTHON = ROOT / ".venv-pyairbyte" / "bin" / "python"
PIXELS = ["1234567890123456", "9876543210987654"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("*.whl")
    return built


def test_given_the_built_wheel_then_it_has_airbytes_pypi_name_and_passes_twine_check(wheel: Path):
    assert wheel.name.startswith("airbyte_source_meta_capi-")
    metadata = yaml.safe_load((ROOT / "metadata.yaml").read_text())["data"]
    assert metadata["remoteRegistries"]["pypi"] == {"enabled": True, "packageName": "airbyte-source-meta-capi"}
    subprocess.run([sys.executable, "-m", "twine", "check", "--strict", str(wheel)], check=True, capture_output=True)


def test_given_the_built_wheel_then_it_carries_the_real_spec_manifest_and_schemas(wheel: Path):
    archive = zipfile.ZipFile(wheel)
    entries = {info.filename: info for info in archive.infolist()}
    for name in (
        "manifest.yaml",
        "spec.yaml",
        *(f"schemas/{p.name}" for p in (ROOT / "source_meta_capi/schemas").glob("*")),
    ):
        info = entries[f"source_meta_capi/{name}"]
        # A regular file, not the repo's symlink (source_meta_capi/spec.yaml -> ../spec.yaml).
        assert (info.external_attr >> 16) & 0o170000 in (0, 0o100000), name
    assert archive.read("source_meta_capi/spec.yaml").decode() == (ROOT / "spec.yaml").read_text()
    scripts = archive.read(next(n for n in entries if n.endswith("entry_points.txt"))).decode()
    assert "source-meta-capi = source_meta_capi.run:run" in scripts
    assert "meta-capi-receiver = source_meta_capi.receiver.cli:main" in scripts


def _fresh_venv_with_the_wheel(wheel: Path, where: Path) -> Path:
    """A new venv holding only the wheel; its dependencies are borrowed from this venv (a .pth
    line, so that this test needs no package index), our editable install is not."""
    venv = where / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    (site / "borrowed_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "--quiet",
            "--no-deps",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return venv


def _cli(venv: Path, *args: str, cwd: Path) -> list[dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    completed = subprocess.run(
        [str(venv / "bin" / "source-meta-capi"), *args], capture_output=True, text=True, timeout=120, cwd=cwd, env=env
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]


def test_given_the_wheel_in_a_fresh_venv_when_run_then_spec_check_and_read_work(wheel: Path, tmp_path: Path):
    venv = _fresh_venv_with_the_wheel(wheel, tmp_path)
    located = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import source_meta_capi.source as s; print(s.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout.strip()
    assert located.startswith(str(venv)), located
    (spec,) = [m for m in _cli(venv, "spec", cwd=tmp_path) if m["type"] == "SPEC"]
    assert (
        spec["spec"]["connectionSpecification"]
        == yaml.safe_load((ROOT / "spec.yaml").read_text())["connectionSpecification"]
    )
    config = {"pixels": [{"pixel_id": p} for p in PIXELS], "staging": {"bucket_url": str(SAMPLE_BUCKET)}}
    (tmp_path / "config.json").write_text(json.dumps(config))
    (status,) = [
        m for m in _cli(venv, "check", "--config", "config.json", cwd=tmp_path) if m["type"] == "CONNECTION_STATUS"
    ]
    assert status["connectionStatus"]["status"] == "SUCCEEDED"
    (catalog,) = [
        m["catalog"] for m in _cli(venv, "discover", "--config", "config.json", cwd=tmp_path) if m["type"] == "CATALOG"
    ]
    configured = {
        "streams": [
            {"stream": s, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"} for s in catalog["streams"]
        ]
    }
    (tmp_path / "catalog.json").write_text(json.dumps(configured))
    messages = _cli(venv, "read", "--config", "config.json", "--catalog", "catalog.json", cwd=tmp_path)
    assert len([m for m in messages if m["type"] == "RECORD"]) == 26


@pytest.mark.slow
@pytest.mark.skipif(not PYAIRBYTE_PYTHON.exists(), reason="PyAirbyte's venv is made by `make pyairbyte`")
def test_given_the_wheel_as_pip_url_when_pyairbyte_installs_it_then_spec_and_check_work(wheel: Path, tmp_path: Path):
    """PyAirbyte's own install path (a venv of its own, dependencies from the package index): ~1 min."""
    script = """
import json, sys
import airbyte as ab
source = ab.get_source("source-meta-capi", pip_url=sys.argv[1], config=json.loads(sys.argv[2]), install_if_missing=True)
print(source.config_spec["title"])
source.check()
"""
    config = {"pixels": [{"pixel_id": PIXELS[0]}], "staging": {"bucket_url": str(SAMPLE_BUCKET)}}
    env = {
        **os.environ,
        "AIRBYTE_NO_UV": "1",
        "AIRBYTE_OFFLINE_MODE": "1",
        "DO_NOT_TRACK": "1",
        "AIRBYTE_NO_UI": "1",
        "HOME": str(tmp_path),
    }
    completed = subprocess.run(
        [str(PYAIRBYTE_PYTHON), "-c", script, str(wheel), json.dumps(config)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-3000:]
    assert "Meta Conversions API" in completed.stdout
