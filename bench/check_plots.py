"""Check that the HTML page written by `dvc plots show` really renders, in headless Chromium, offline.

    python bench/check_plots.py                                   # plots of the current repository
    python bench/check_plots.py --repo /tmp/somerepo --expect 2 --out bench/results/plots.png

Runs `python -m dvc plots show -o <tmpdir>` in --repo, points the page's vega / vega-lite /
vega-embed <script> tags (cdn.jsdelivr.net, unreachable here) at the same versions fetched once with
`npm pack` into bench/.cache/vega/, renders the page with Debian's chromium (`apt-get install
chromium`), then checks that every vega plot div holds a drawn canvas/svg, that the browser console has
no error, and that the screenshot is not blank. Writes the screenshot (cropped below the last plot) to
--out and prints one line; exits 1 with a one-line reason on failure.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import matplotlib.image
import numpy as np

CACHE = Path(__file__).resolve().parent / ".cache" / "vega"
CDN = re.compile(r"\"https://cdn\.jsdelivr\.net/npm/([\w.-]+@[\w.-]+)\"")
REMOTE_SCRIPT = re.compile(r"<script[^>]*\ssrc=\"(https?://[^\"]+)\"")
PLOT_DIV = re.compile(r"vegaEmbed\('#([^']+)'")
EMPTY_SPEC = re.compile(r"var spec = \{\};\s*vegaEmbed\('#([^']+)'")
# vega-embed replaces each plot div's content by a chart wrapper whose first child is the drawing;
# the "..." actions button is also an <svg>, so only class="marks" counts, and only if not 0x0 (what
# vega-embed makes of the empty spec `{}` that DVC writes for a plot whose files it could not load).
DRAWN_DIV = re.compile(r"<div id=\"([^\"]+)\" class=\"vega-embed[^>]*>\s*<div class=\"chart-wrapper\"[^>]*>\s*"
                       r"<(?:canvas|svg)(?=[^>]*\bclass=\"marks\")(?=[^>]*\swidth=\"[1-9])(?=[^>]*\sheight=\"[1-9])")
DRAWING_HEIGHT = re.compile(r"<(?:canvas|svg)\b[^>]*?\sheight=\"(\d+)\"[^>]*\bclass=\"marks\"")
CONSOLE_ERROR = re.compile(r"^.*:CONSOLE[^\]]*\]\s*(.*(?:Uncaught|\"ERROR|Error:|Failed to load).*)$", re.M)


def fail(reason: str) -> None:
    """Exit 1 with a single line, so a CI log or a caller's `tail -1` shows the reason."""
    sys.exit(f"plots: FAILED: {reason}")


def show_plots(repo: Path, out_dir: Path) -> str:
    """Run the real `dvc plots show` (same interpreter, so the same dvc/dvc_render) and return its page."""
    done = subprocess.run([sys.executable, "-m", "dvc", "plots", "show", "-o", str(out_dir)], cwd=repo,
                          capture_output=True, text=True)
    page = out_dir / "index.html"
    if done.returncode or not page.is_file():
        fail(f"dvc plots show in {repo}: {(done.stderr.strip() or done.stdout.strip() or 'no index.html')[-300:]}")
    return page.read_text(encoding="utf8")


def bundle_from_tarball(tgz: Path, target: Path) -> None:
    """Copy the file jsdelivr serves for a bare `npm/<pkg>@<ver>` URL (package.json "jsdelivr", else
    "unpkg") out of an npm tarball, so the local page runs the very same script as the CDN one."""
    with tarfile.open(tgz) as tar:
        meta = json.load(tar.extractfile("package/package.json"))
        entry = meta.get("jsdelivr") or meta.get("unpkg")
        if not isinstance(entry, str):
            fail(f"{tgz.name}: package.json names no browser bundle (jsdelivr/unpkg)")
        target.write_bytes(tar.extractfile("package/" + entry.removeprefix("./")).read())


def vega_bundles(specs: list[str]) -> dict[str, Path]:
    """Local copies of the CDN packages (`name@version`), fetched with `npm pack` only when not cached:
    the npm registry is reachable where cdn.jsdelivr.net is not."""
    CACHE.mkdir(parents=True, exist_ok=True)
    bundles = {spec: CACHE / f"{spec}.js" for spec in specs}
    missing = [spec for spec, path in bundles.items() if not path.is_file()]
    if missing:
        if not shutil.which("npm"):
            fail(f"npm not found; it is needed once to fetch {' '.join(missing)} into {CACHE}")
        done = subprocess.run(["npm", "pack", *missing, "--json", "--pack-destination", str(CACHE)], cwd=CACHE,
                              capture_output=True, text=True)
        if done.returncode:
            fail(f"npm pack {' '.join(missing)}: {done.stderr.strip().splitlines()[-1:]}")
        packed = [CACHE / item["filename"] for item in json.loads(done.stdout)]
        for spec, tgz in zip(missing, packed):  # three packages, not data
            bundle_from_tarball(tgz, bundles[spec])
    return bundles


def localise(page: str) -> str:
    """Rewrite the jsdelivr script URLs to file:// copies; refuse a page that still needs the network.
    charset="utf-8" stands in for jsdelivr's Content-Type header: DVC's page declares no charset, so
    from file:// the bundles would be read as windows-1252 and vega's "…" would show as "â€¦"."""
    bundles = vega_bundles(sorted(set(CDN.findall(page))))
    local = CDN.sub(lambda m: f'"{bundles[m.group(1)].as_uri()}" charset="utf-8"', page)
    remote = REMOTE_SCRIPT.findall(local)
    if remote:
        fail(f"page loads scripts from the network, not only from jsdelivr: {remote[0]}")
    return local


def render(page: Path, png: Path, height: int, profile: Path) -> tuple[str, str]:
    """Load the page in headless Chromium; return (DOM after scripts ran, browser log with console lines).
    --virtual-time-budget lets vega finish before the DOM dump and screenshot, without wall-clock sleeps."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        fail("chromium not found: apt-get install chromium")
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-dev-shm-usage", "--hide-scrollbars", f"--user-data-dir={profile}",
           "--enable-logging=stderr", "--v=0", "--virtual-time-budget=15000", f"--window-size=1400,{height}",
           f"--screenshot={png}", "--dump-dom", page.as_uri()]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    except subprocess.TimeoutExpired:
        fail("chromium did not finish in 180 s")
    if done.returncode or not png.is_file():
        fail(f"chromium exited {done.returncode}: {done.stderr.strip().splitlines()[-1:]}")
    return done.stdout, done.stderr


def page_height(dom: str) -> int:
    """Upper bound of the page height: the drawings stacked (they sit side by side when they fit), plus
    the slider/checkbox bindings below each, so a tall faceted plot is not cut off by the window."""
    heights = np.array(DRAWING_HEIGHT.findall(dom), dtype=int)
    return 200 + int(heights.sum()) + 60 * heights.size


def save_cropped(png: Path, out: Path) -> tuple[np.ndarray, tuple[int, int]]:
    """Drop the white rows below the last plot (the window is sized generously) and write the screenshot;
    return the non-white mask and (width, height) so the caller can tell a blank page."""
    image = matplotlib.image.imread(png)[..., :3]
    ink = image.min(axis=-1) < 0.9
    rows = np.flatnonzero(ink.any(axis=1))
    bottom = min(image.shape[0], (rows[-1] + 21) if rows.size else 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    matplotlib.image.imsave(out, image[:bottom])
    return ink, (image.shape[1], bottom)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, default=Path.cwd(), help="DVC repository (default: current dir)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/plots.png"), help="screenshot to write")
    parser.add_argument("--expect", type=int, default=None, help="number of vega plots the page must have")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="check-plots-") as tmp:
        work = Path(tmp)
        page = show_plots(args.repo.resolve(), work / "plots")
        plots = PLOT_DIV.findall(page)
        if not plots:
            fail("the page has no vega plot")
        if args.expect is not None and len(plots) != args.expect:
            fail(f"the page has {len(plots)} vega plots, expected {args.expect}: {', '.join(plots)}")
        local = work / "plots" / "local.html"
        local.write_text(localise(page), encoding="utf8")
        height = 400 + 600 * len(plots)
        dom, log = render(local, work / "shot.png", height, work / "profile")
        if page_height(dom) > height:  # taller than guessed: render again with room for every drawing
            dom, log = render(local, work / "shot.png", min(page_height(dom), 16384), work / "profile")
        ink, size = save_cropped(work / "shot.png", args.out)
    errors = CONSOLE_ERROR.findall(log)
    if errors:
        fail(f"browser console error: {errors[0][:300]}")
    undrawn = sorted(set(plots) - set(DRAWN_DIV.findall(dom)))
    if undrawn:
        empty = set(EMPTY_SPEC.findall(page))
        names = [f"{name} (empty spec: DVC loaded no data)" if name in empty else name for name in undrawn]
        fail(f"{len(plots) - len(undrawn)} of {len(plots)} plots rendered; not drawn: {', '.join(names)}")
    if ink.sum() < 2000 * len(plots):
        fail(f"screenshot {args.out} is (almost) blank: {int(ink.sum())} non-white pixels")
    print(f"plots: {len(plots)} of {len(plots)} rendered; screenshot {args.out} ({size[0]}x{size[1]})")


if __name__ == "__main__":
    main()
