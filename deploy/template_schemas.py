"""Write the package's record schemas into deploy/template.yaml (`make template-schemas`).

Each `AWS::Glue::SchemaVersion` of the template carries its stream's schema inline, in the exact
canonical text `meta-capi-receiver schemas publish` registers, so whichever registers a
definition first, the other finds the same version instead of adding a duplicate. The line after
each `# schema: <stream>` marker is that text; unit_tests/deploy/test_schema_registry_template.py
fails when it no longer equals source_meta_capi/schemas/<stream>.json.

    python deploy/template_schemas.py [--check]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from source_meta_capi.receiver.schema_registry import package_schemas

TEMPLATE = Path(__file__).resolve().parent / "template.yaml"
# The marker comment, the SchemaDefinition key with a literal block, and the block's one line.
_BLOCK = re.compile(r"(# schema: (?P<name>[a-z_]+)\n\s*SchemaDefinition: \|-\n(?P<indent>[ ]+))(?P<text>[^\n]*)")


def render(template: str) -> str:
    """`template` with every marked SchemaDefinition set to the package's canonical schema."""
    definitions = {schema.name: schema.definition for schema in package_schemas()}

    def replace(match: re.Match[str]) -> str:
        return match.group(1) + definitions[match.group("name")]

    return _BLOCK.sub(replace, template)


def marked_streams(template: str) -> list[str]:
    """The streams whose definition the template carries, in order."""
    return [match.group("name") for match in _BLOCK.finditer(template)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if the template is out of date; change nothing")
    args = parser.parse_args(argv)
    current = TEMPLATE.read_text(encoding="utf-8")
    wanted = render(current)
    if wanted == current:
        return 0
    if args.check:
        sys.stderr.write(f"{TEMPLATE.name}: schema definitions are out of date; run make template-schemas\n")
        return 1
    TEMPLATE.write_text(wanted, encoding="utf-8")
    sys.stdout.write(f"{TEMPLATE.name}: schema definitions rewritten\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
