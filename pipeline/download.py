"""Stage download: put the chosen MovieLens release's files into data/raw with a manifest.

    python -m pipeline.download --out data/raw
"""

from __future__ import annotations

import argparse
import sys

from .lib.errors import stage_main
from .lib.fetch import fetch
from .lib.io import atomic_dir, write_json
from .lib.sections import load_section


@stage_main("download")
def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", default="data/raw")
    args = parser.parse_args(argv)
    data = load_section("data", args.params)
    with atomic_dir(args.out) as tmp:
        manifest = fetch(data["dataset"], data["source"], tmp)
        write_json(manifest, tmp / "manifest.json")
    return f"{manifest['dataset']} from {manifest['source']} ({manifest['url']}), files {', '.join(manifest['files'])}"


if __name__ == "__main__":
    sys.exit(main())
