"""The docs tell the truth about the code: the params reference is generated from it, and README's links resolve."""

import re
from pathlib import Path

from pipeline.lib.reference import params_reference

ROOT = Path(__file__).resolve().parents[1]


def test_params_reference_is_generated_from_the_code():
    assert (ROOT / "docs" / "params.md").read_text() == params_reference(), \
        "docs/params.md is stale: python -m pipeline.lib.reference > docs/params.md"


def test_every_key_has_its_allowed_values():
    rows = [line.split(" | ") for line in params_reference().splitlines() if line.startswith("| `")]
    allowed = {row[0].strip("| `"): row[2] for row in rows if row[1]}  # keys with a default: values, not sections
    assert [key for key, values in allowed.items() if not values.strip()] == []
    assert allowed["train.refit"] == "`auto` or true or false"  # a union lists each of its members
    assert allowed["train.devices"] == "`auto` or integer > 0"


def test_params_reference_lists_every_key_of_params_yaml():
    import yaml

    text = (ROOT / "docs" / "params.md").read_text()

    def keys(tree, prefix=""):
        for key, value in tree.items():
            if isinstance(value, dict) and key != "presets":  # a preset's keys are the section's own
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


def test_the_ml20m_tutorial_command_is_valid_params(tmp_path):
    """The one command docs/ml-20m-tutorial.md gives passes the params check the `check` stage runs."""
    import yaml

    from pipeline.lib.params import load_params

    text = (ROOT / "docs" / "ml-20m-tutorial.md").read_text()
    command = re.search(r"```bash\n(dvc exp run .*?)\n```", text, re.S).group(1)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    settings = re.findall(r"-S '?([\w.]+)=([^' \\\n]+)'?", command)
    assert {key for key, _ in settings} >= {"data.dataset", "reindex.top_users", "train.models"}
    for key, value in settings:
        *path, last = key.split(".")
        node = params
        for part in path:
            node = node[part]
        node[last] = yaml.safe_load(value)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    loaded = load_params(tmp_path / "params.yaml")
    assert loaded["reindex"]["top_users"] == 60000 and "autorec" in loaded["train"]["models"]
