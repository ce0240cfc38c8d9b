import functools
import http.server
import stat
import threading
import zipfile

import pytest

from movielens_fixtures import write_csv, write_ml100k, write_ml1m, write_recbole, zip_folder
from pipeline.lib import fetch as F
from pipeline.lib.datasets import DATASETS, Dataset
from pipeline.lib.errors import PipelineError


@pytest.fixture
def server(tmp_path):
    """A loopback HTTP server over tmp_path/www, standing in for files.grouplens.org."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_grouplens_download_verifies_and_extracts(tmp_path, tiny, server, monkeypatch):
    root, url = server
    archive = zip_folder(write_ml100k(tmp_path / "src", tiny), root / "ml-100k.zip", "ml-100k")
    monkeypatch.setenv("MOVIELENS_BASE_URL", url)
    sha = F.sha256_of(archive)
    monkeypatch.setitem(DATASETS, "ml-100k", Dataset("ml-100k", "ml-100k", False, archive.stat().st_size, sha))
    dest = tmp_path / "out"
    dest.mkdir()
    manifest = F.fetch("ml-100k", "grouplens", dest)
    assert manifest["source"] == "grouplens" and manifest["archive_sha256"] == sha
    assert sorted(p.name for p in dest.iterdir()) == ["u.data", "u.item", "u.user"]


def test_checksum_or_size_mismatch_is_refused(tmp_path, tiny, server, monkeypatch):
    root, url = server
    archive = zip_folder(write_ml100k(tmp_path / "src", tiny), root / "ml-100k.zip", "ml-100k")
    monkeypatch.setenv("MOVIELENS_BASE_URL", url)
    dest = tmp_path / "out"
    dest.mkdir()
    monkeypatch.setitem(DATASETS, "ml-100k", Dataset("ml-100k", "ml-100k", False, archive.stat().st_size, "0" * 64))
    with pytest.raises(PipelineError, match="sha256 .* does not match the known 0000"):
        F.fetch("ml-100k", "grouplens", dest)
    monkeypatch.setitem(DATASETS, "ml-100k", Dataset("ml-100k", "ml-100k", False, 12345, None))
    with pytest.raises(PipelineError, match="expected 12345"):
        F.fetch("ml-100k", "grouplens", dest)


def test_auto_falls_back_to_the_pypi_mirror_only_for_ml100k(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MOVIELENS_BASE_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    calls = []

    def fake_mirror(dataset, dest, workdir):
        calls.append(dataset.name)
        (dest / "ml-100k.inter").write_text("user_id:token\titem_id:token\trating:float\ttimestamp:float\n")
        return {"source": "pypi-mirror", "url": "pypi:recbole==1.2.1", "archive_sha256": "x", "layout": "recbole"}

    monkeypatch.setattr(F, "fetch_pypi_mirror", fake_mirror)
    dest = tmp_path / "a"
    dest.mkdir()
    assert F.fetch("ml-100k", "auto", dest)["source"] == "pypi-mirror"
    assert "using the PyPI mirror" in capsys.readouterr().err
    with pytest.raises(PipelineError, match="no mirror for ml-1m: download .* and set data.source to its path"):
        F.fetch("ml-1m", "auto", dest)
    assert calls == ["ml-100k"]


def test_pypi_mirror_has_only_ml100k(tmp_path):
    with pytest.raises(PipelineError, match="pypi-mirror has only ml-100k"):
        F.fetch_pypi_mirror(DATASETS["ml-1m"], tmp_path, tmp_path)


def test_local_archive_and_folder(tmp_path, tiny):
    src = write_ml1m(tmp_path / "ml-1m", tiny)
    archive = zip_folder(src, tmp_path / "ml-1m.zip", "ml-1m")
    for source in (archive, src, tmp_path):  # an archive, the folder, a folder one level above it
        dest = tmp_path / f"out-{len(list(tmp_path.iterdir()))}"
        dest.mkdir()
        manifest = F.fetch("ml-1m", str(source), dest)
        assert manifest["layout"] == "dat" and manifest["source"] == "local"
        assert sorted(manifest["files"]) == ["movies.dat", "ratings.dat", "users.dat"]


def test_missing_local_path(tmp_path):
    with pytest.raises(PipelineError, match="does not exist"):
        F.fetch("ml-100k", str(tmp_path / "nope.zip"), tmp_path)


def test_folder_without_ratings(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(PipelineError, match="no MovieLens ratings file found"):
        F.fetch("ml-100k", str(tmp_path / "empty"), tmp_path)


@pytest.mark.parametrize("name", ["../evil/u.data", "/etc/u.data", "C:/x/u.data", "ml-100k/../../u.data"])
def test_entry_escaping_the_target_is_refused(tmp_path, name):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(name, "1\t1\t1\t1\n")
    with pytest.raises(PipelineError, match="would escape the target folder"):
        F.extract_dataset(archive, tmp_path, str(archive))
    assert not (tmp_path.parent / "evil").exists()


def test_link_entry_is_refused(tmp_path):
    archive = tmp_path / "link.zip"
    info = zipfile.ZipInfo("ml-100k/u.data")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(PipelineError, match="is a link"):
        F.extract_dataset(archive, tmp_path, str(archive))


def test_truncated_or_corrupt_archive(tmp_path, tiny):
    archive = zip_folder(write_ml100k(tmp_path / "src", tiny), tmp_path / "ml-100k.zip", "ml-100k")
    data = archive.read_bytes()
    (tmp_path / "trunc.zip").write_bytes(data[: len(data) // 2])
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(PipelineError, match="not a readable zip archive"):
        F.extract_dataset(tmp_path / "trunc.zip", dest, "trunc.zip")
    flipped = bytearray(data)
    flipped[200] ^= 0xFF  # inside u.data's compressed bytes: CRC or inflate fails
    (tmp_path / "flip.zip").write_bytes(bytes(flipped))
    with pytest.raises(PipelineError, match="flip.zip: (corrupt|not a readable)"):
        F.extract_dataset(tmp_path / "flip.zip", dest, "flip.zip")


ML1M_EXPECTED = ("data.dataset is ml-1m (ratings.dat, '::'-separated, whole stars; 1,000,209 ratings, 6,040 users, "
                 "3,706 movies) but {} holds ml-100k files (u.data)")


def test_files_of_another_release_are_refused_by_name(tmp_path, tiny):
    src = write_ml100k(tmp_path / "ml-100k", tiny)
    archive = zip_folder(src, tmp_path / "ml-100k.zip", "ml-100k")
    for source in (src, archive):
        dest = tmp_path / f"out-{source.name}"
        dest.mkdir()
        with pytest.raises(PipelineError) as err:
            F.fetch("ml-1m", str(source), dest)
        assert str(err.value) == ML1M_EXPECTED.format(source)
        assert not list(dest.iterdir())  # refused before anything was copied
    dest = tmp_path / "out-reverse"
    dest.mkdir()
    with pytest.raises(PipelineError, match=r"data.dataset is ml-100k \(u.data or ml-100k.inter, tab-separated, "
                                            r"whole stars; 100,000 ratings.* holds ml-1m or ml-10m files "
                                            r"\(ratings.dat\)"):
        F.fetch("ml-100k", str(write_ml1m(tmp_path / "ml-1m", tiny)), dest)
    with pytest.raises(PipelineError, match=r"data.dataset is ml-latest-small \(ratings.csv, comma-separated, "
                                            r"half stars; 100,836 ratings.* holds ml-1m or ml-10m files"):
        F.fetch("ml-latest-small", str(tmp_path / "ml-1m"), dest)


def test_recbole_files_are_ml100k_only(tmp_path, tiny):
    src = write_recbole(tmp_path / "recbole", tiny)
    dest = tmp_path / "out"
    dest.mkdir()
    assert F.fetch("ml-100k", str(src), dest)["layout"] == "recbole"
    with pytest.raises(PipelineError, match="data.dataset is ml-1m .* holds ml-100k files \\(ml-100k.inter\\)"):
        F.fetch("ml-1m", str(src), tmp_path)


def test_a_folder_of_several_releases_gives_the_labelled_one(tmp_path, tiny):
    write_ml100k(tmp_path / "ml" / "ml-100k", tiny)  # sorts first, so it used to win whatever the label
    write_ml1m(tmp_path / "ml" / "ml-1m", tiny)
    dest = tmp_path / "out"
    dest.mkdir()
    assert F.fetch("ml-1m", str(tmp_path / "ml"), dest)["layout"] == "dat"
    assert sorted(p.name for p in dest.iterdir()) == ["movies.dat", "ratings.dat", "users.dat"]


def test_grouplens_mirror_serving_another_release_is_refused(tmp_path, tiny, server, monkeypatch):
    root, url = server  # ml-10m has no known checksum, so only its layout tells a wrong archive apart
    zip_folder(write_ml100k(tmp_path / "src", tiny), root / "ml-10m.zip", "ml-10m")
    monkeypatch.setenv("MOVIELENS_BASE_URL", url)
    with pytest.raises(PipelineError, match=r"data.dataset is ml-10m \(ratings.dat, .*half stars; 10,000,054 "
                                            r"ratings.* but http://.*/ml-10m.zip holds ml-100k files \(u.data\)"):
        F.fetch("ml-10m", "grouplens", tmp_path)


def test_symlinked_files_in_a_local_folder_are_followed(tmp_path, tiny):
    real = write_csv(tmp_path / "elsewhere", tiny)
    src = tmp_path / "mine"
    src.mkdir()
    (src / "ratings.csv").symlink_to(real / "ratings.csv")
    (src / "movies.csv").symlink_to(real / "movies.csv")
    dest = tmp_path / "out"
    dest.mkdir()
    manifest = F.fetch("ml-latest-small", str(src), dest)
    assert manifest["layout"] == "csv" and manifest["files"] == ["movies.csv", "ratings.csv"]
    for name in ("ratings.csv", "movies.csv"):
        assert not (dest / name).is_symlink() and (dest / name).read_bytes() == (real / name).read_bytes()


def test_dangling_symlink_is_named(tmp_path):
    src = tmp_path / "mine"
    src.mkdir()
    (src / "ratings.csv").symlink_to(tmp_path / "gone.csv")
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(PipelineError, match=f"{src / 'ratings.csv'} is a link to {tmp_path / 'gone.csv'}, "
                                            "which does not exist"):
        F.fetch("ml-latest-small", str(src), dest)
