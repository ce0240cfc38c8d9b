"""Stage check (runs on every `dvc repro`): validate the whole params.yaml, and fingerprint data.source.

DVC runs a stage only when one of its own deps changed, so a misspelled key in a section no changed stage reads
would go unnoticed; this stage reads the whole file every time. Its output, data/source.json, changes only when
the data source does (a local archive or folder edited in place included), and the download stage depends on it.

    python -m pipeline.check --out data/source.json
"""

from __future__ import annotations

import argparse
import sys

from .lib.errors import stage_main
from .lib.fetch import source_fingerprint
from .lib.io import write_json
from .lib.params import load_params


@stage_main("check")
def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", default="data/source.json")
    args = parser.parse_args(argv)
    data = load_params(args.params)["data"]
    fingerprint = source_fingerprint(data["dataset"], data["source"])
    write_json(fingerprint, args.out)
    return f"params.yaml is valid; source {data['source']}" + (f" ({fingerprint['files']} files hashed)"
                                                               if "sha256" in fingerprint else "")


if __name__ == "__main__":
    sys.exit(main())
