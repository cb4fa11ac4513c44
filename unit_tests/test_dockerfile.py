"""The connector image's Dockerfile stays lean (checked statically: CI has no Docker daemon;
`make docker-smoke` builds it and reports its size and largest parts)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()
# The instructions, comments dropped and continuation lines joined.
INSTRUCTIONS = re.sub(r"\\\n\s*", " ", "\n".join(line for line in DOCKERFILE.splitlines() if not line.startswith("#")))
STAGES = re.split(r"^FROM ", INSTRUCTIONS, flags=re.M)[1:]


def test_two_stages_and_the_final_one_only_copies_the_finished_venv():
    assert len(STAGES) == 2 and STAGES[0].split()[:3] == ["${BASE_IMAGE}", "AS", "builder"]
    final = STAGES[1]
    assert "COPY --from=builder /opt/connector /opt/connector" in final
    assert not re.search(r"^(RUN|COPY)\b.*\b(pip|apt-get|source_meta_capi)\b", final, re.M)


def test_the_connector_is_installed_without_extras_or_caches():
    (install,) = re.findall(r"pip install [^&]*", STAGES[0])
    assert install.split()[-1] == ".", "only the connector: the receiver's stack is the [receiver] extra"
    assert "--no-cache-dir" in install and "[" not in install


def test_build_tools_are_removed_and_bytecode_is_compiled_deliberately():
    assert re.search(r"pip uninstall --yes --quiet pip setuptools wheel", STAGES[0])
    assert "compileall" in STAGES[0]
    assert "PYTHONDONTWRITEBYTECODE=1" in STAGES[1]


def test_the_build_context_leaves_out_venvs_tests_and_build_outputs():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".venv-*", "build", "dist", "**/__pycache__", "unit_tests", "integration_tests"} <= ignored
    # What either Dockerfile copies must stay in the context.
    for dockerfile in ("Dockerfile", "deploy/receiver.Dockerfile"):
        for source in re.findall(r"^COPY (?!--from)(.+) \S+$", (ROOT / dockerfile).read_text(), re.M):
            for path in source.split():
                assert not any(path == entry or path.startswith(f"{entry}/") for entry in ignored), (dockerfile, path)
