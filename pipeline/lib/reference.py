"""docs/params.md, generated from the code that validates params.yaml, so the documentation cannot drift:

    python -m pipeline.lib.reference > docs/params.md

(tests/test_docs.py fails when the committed page differs from what this prints).
"""

from __future__ import annotations

import json
import sys

from .models import REGISTRY
from .params import schema
from .sections import listed_in_order

HEADER = """# Params reference

Generated from the code by `python -m pipeline.lib.reference > docs/params.md`: the section classes in
`pipeline/lib/sections.py`, and each model's `Config` beside its class in `pipeline/lib/models/`. `params.yaml`
holds every key at these defaults (a test checks it). Every key is validated on every `dvc repro` by the `check`
stage: an unknown key, or a value outside what is allowed below, stops the run with one line naming the key.
"""


def _allowed(spec: dict) -> str:
    if "anyOf" in spec:  # a union (train.devices: auto or an integer)
        return " or ".join(_allowed(member) for member in spec["anyOf"])
    if "const" in spec:
        return f"`{spec['const']}`"
    if "enum" in spec:
        return "one of " + ", ".join(f"`{v}`" for v in spec["enum"])
    kind = {"integer": "integer", "number": "number", "boolean": "true or false", "string": "text"}.get(
        spec.get("type"), spec.get("type", ""))
    if spec.get("type") == "object" and "propertyNames" in spec:  # ModelConfig.presets
        names = ", ".join(f"`{v}`" for v in spec["propertyNames"].get("enum", []))
        return f"map of dataset ({names}) to values of this section's other keys"
    if spec.get("type") == "array":
        inner = _allowed(spec.get("items", {}))
        size = f", at least {spec['minItems']}" if spec.get("minItems") else ""
        return f"list of {inner}{size}"
    bounds = [f"{op} {spec[key]}" for key, op in (("exclusiveMinimum", ">"), ("minimum", "≥"),
                                                    ("exclusiveMaximum", "<"), ("maximum", "≤")) if key in spec]
    return " ".join([kind, " and ".join(bounds)]).strip()


def _rows(spec: dict, defs: dict, prefix: str, defaults: dict | None = None) -> list[str]:
    """``defaults`` (a config's own dump) supplies what the JSON schema leaves out: a default_factory's value."""
    rows = []
    for key in listed_in_order(spec["properties"]):
        field = spec["properties"][key]
        path = f"{prefix}{key}"
        ref = field.get("$ref")
        if ref:
            inner = defs[ref.split("/")[-1]]
            if inner.get("description"):
                rows.append(f"| `{path}` | | | {inner['description']} |")
            rows.extend(_rows(inner, defs, f"{path}."))
            continue
        default = (json.dumps(field["default"]) if "default" in field
                   else json.dumps(defaults[key]) if defaults and key in defaults else "")
        rows.append(f"| `{path}` | `{default}` | {_allowed(field)} | {' '.join(field.get('description', '').split())} |")
    return rows


def params_reference() -> str:
    whole = schema().model_json_schema()
    defs = whole["$defs"]
    out = [HEADER]
    for section, field in whole["properties"].items():
        out.append(f"## `{section}`\n")
        out.append("| key | default | allowed | meaning |\n|---|---|---|---|")
        inner = defs[field["$ref"].split("/")[-1]]
        if section == "train":
            models = {k: v for k, v in inner["properties"].items() if k in REGISTRY}
            shared = {**inner, "properties": {k: v for k, v in inner["properties"].items() if k not in REGISTRY}}
            out.extend(_rows(shared, defs, "train."))
            out.append("")
            for name in models:
                cls = REGISTRY[name]
                out.append(f"### `train.{name}`: {(cls.__doc__ or '').strip().splitlines()[0]}\n")
                out.append(f"Declared in `{cls.__module__.replace('.', '/')}.py` (`{cls.Config.__name__}`).\n")
                out.append("| key | default | allowed | meaning |\n|---|---|---|---|")
                out.extend(_rows(defs[cls.Config.__name__], defs, f"train.{name}.",
                                 cls.Config().model_dump(mode="json")))
                out.append("")
        else:
            out.extend(_rows(inner, defs, f"{section}."))
            out.append("")
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    sys.stdout.write(params_reference())
