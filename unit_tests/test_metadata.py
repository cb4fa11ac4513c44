"""metadata.yaml as Airbyte's registry and QA checks read it, consistent with spec.yaml and the package."""

from __future__ import annotations

import tomllib
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import yaml
from airbyte_cdk.models.connector_metadata import MetadataFile

ROOT = Path(__file__).resolve().parent.parent
METADATA = yaml.safe_load((ROOT / "metadata.yaml").read_text())["data"]
DOCS_PAGE = "docs/integrations/sources/meta-capi.md"


def test_metadata_parses_with_the_cdks_model():
    parsed = MetadataFile.from_file(ROOT / "metadata.yaml")
    assert parsed.data.dockerRepository == "airbyte/source-meta-capi"


def test_exactly_one_cdk_tag_and_it_is_low_code_because_a_manifest_drives_the_pull_streams():
    cdk_tags = [tag for tag in METADATA["tags"] if tag.startswith("cdk:")]
    assert (ROOT / "source_meta_capi" / "manifest.yaml").exists()
    assert cdk_tags == ["cdk:low-code"]
    assert [tag for tag in METADATA["tags"] if tag.startswith("language:")] == ["language:python"]


def test_the_icon_is_a_committed_svg():
    assert METADATA["icon"] == "icon.svg"
    root = ElementTree.parse(ROOT / "icon.svg").getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert (ROOT / "icon.svg").stat().st_size < 10_000


def test_documentation_url_points_at_the_docs_page_in_spec_and_metadata():
    spec_url = yaml.safe_load((ROOT / "spec.yaml").read_text())["documentationUrl"]
    assert METADATA["documentationUrl"] == spec_url
    assert spec_url.endswith(f"/{DOCS_PAGE}")
    assert (ROOT / DOCS_PAGE).is_file()


def test_the_pypi_package_is_the_distribution_this_repo_builds():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert METADATA["remoteRegistries"]["pypi"] == {"enabled": True, "packageName": project["name"]}
    assert project["name"] == "airbyte-source-meta-capi"
    assert set(project["scripts"]) == {"source-meta-capi", "meta-capi-receiver"}
