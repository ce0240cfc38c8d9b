"""The docs tell the truth about the code: the params reference is generated from it, and README's links resolve."""

import re
from pathlib import Path

from pipeline.lib.reference import params_reference

ROOT = Path(__file__).resolve().parents[1]


def test_params_reference_is_generated_from_the_code():
    assert (ROOT / "docs" / "params.md").read_text() == params_reference(), \
        "docs/params.md is stale: python -m pipeline.lib.reference > docs/params.md"


def test_params_reference_lists_every_key_of_params_yaml():
    import yaml

    text = (ROOT / "docs" / "params.md").read_text()

    def keys(tree, prefix=""):
        for key, value in tree.items():
            if isinstance(value, dict):
                yield from keys(value, f"{prefix}{key}.")
            else:
                yield f"{prefix}{key}"

    missing = [k for k in keys(yaml.safe_load((ROOT / "params.yaml").read_text())) if f"`{k}`" not in text]
    assert missing == [], missing


def test_readme_is_a_map_whose_links_resolve():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    links = re.findall(r"\]\(([^)#]+)\)", readme)
    local = [link for link in links if not link.startswith("http")]
    assert local and all((ROOT / link).exists() for link in local), [l for l in local if not (ROOT / l).exists()]
