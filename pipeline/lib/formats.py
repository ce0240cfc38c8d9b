"""Parsers for every MovieLens layout, normalised to one schema.

ratings: user_id int64, item_id int64, rating float32, timestamp int64 (original ids)
items:   item_id int64, title str, year Int16 (nullable), genres str ('|'-joined)
users:   user_id int64, gender str, age Int16, occupation str, zip str  (ml-100k and ml-1m only)

Ratings files can hold 25M+ lines, so they are read by pyarrow with types fixed up front; only when
that fails is the file re-read line by line (vectorised) to name the first bad line. Metadata files are
small and read as text columns, then converted, which gives the bad line directly.

Every file may start with a UTF-8 byte-order mark: it is stripped, and the file read as UTF-8.
User and movie ids are positive integers in every file (MovieLens ids start at 1).
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from . import columns as C
from .datasets import LAYOUT_FILES
from .errors import PipelineError

ML100K_GENRES = [
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
]
ML1M_OCCUPATIONS = [
    "other", "academic/educator", "artist", "clerical/admin", "college/grad student", "customer service",
    "doctor/health care", "executive/managerial", "farmer", "homemaker", "K-12 student", "lawyer", "programmer",
    "retired", "sales/marketing", "scientist", "self-employed", "technician/engineer", "tradesman/craftsman",
    "unemployed", "writer",
]
NO_GENRES = "(no genres listed)"

_INT = r"^\s*-?\d+\s*$"
_FLOAT = r"^\s*-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"
BOM = b"\xef\xbb\xbf"


# A byte-order mark means the file was saved as UTF-8 (e.g. re-saved by a spreadsheet), whatever its layout's
# usual encoding: decoded as latin-1, the mark would become 'ï»¿' in line 1's first field and titles mojibake.
def _has_bom(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(len(BOM)) == BOM


@contextlib.contextmanager
def _arrow_source(path: Path, encoding: str) -> Iterator[tuple[pa.NativeFile, str]]:
    """The file for pyarrow, positioned after any byte-order mark, and the encoding to read it with."""
    bom = _has_bom(path)
    with pa.OSFile(str(path)) as source:
        source.seek(len(BOM) if bom else 0)
        yield source, "utf-8" if bom else encoding


def _read_lines(path: Path, encoding: str) -> pd.Series:
    """The file's lines as strings, index = 0-based line number (for error reports only or small files)."""
    data = path.read_bytes()
    if data.startswith(BOM):
        data, encoding = data[len(BOM):], "utf-8"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PipelineError(f"{path}:{line}: not valid {encoding} text") from None
    return pd.Series(text.splitlines(), dtype=object)


def _check_positive_ids(path: Path, ids: pd.Series | np.ndarray, what: str, first_line: int = 1) -> None:
    """Refuse ids < 1, naming the line; ``first_line`` is the file line of ids' first element, or for a Series
    its index is taken as the 0-based line number."""
    values = np.asarray(ids)
    bad = values < 1
    if bad.any():
        row = int(bad.argmax())
        line = ids.index[row] + 1 if isinstance(ids, pd.Series) else row + first_line
        raise PipelineError(f"{path}:{line}: {what} id {values[row]} is not allowed: ids are integers from 1 up "
                            "(MovieLens ids start at 1)")


def _split_fields(path: Path, lines: pd.Series, sep: str, names: list[str], first_line: int = 0) -> pd.DataFrame:
    """Split lines on ``sep`` into exactly len(names) string fields, naming the first line that does not fit."""
    lines = lines.iloc[first_line:]
    parts = lines.str.split(sep, regex=False)
    counts = parts.str.len()
    bad = counts != len(names)
    if bad.any():
        row = bad.idxmax()
        shown = lines[row] if len(lines[row]) <= 80 else lines[row][:77] + "..."
        raise PipelineError(
            f"{path}:{row + 1}: expected {len(names)} fields separated by {sep!r}, found {counts[row]}: {shown!r}"
        )
    frame = pd.DataFrame(parts.tolist(), columns=names, index=lines.index) if len(lines) else pd.DataFrame(
        columns=names)
    return frame


def _to_number(path: Path, frame: pd.DataFrame, column: str, integer: bool, nullable: bool = False) -> pd.Series:
    """Convert a text column, naming the first line whose value is not a number."""
    text = frame[column].astype(str).str.strip()
    ok = text.str.match(_INT if integer else _FLOAT)
    if nullable:
        ok |= text == ""
    if not ok.all():
        row = (~ok).idxmax()
        raise PipelineError(f"{path}:{row + 1}: field {column!r} is not {'an integer' if integer else 'a number'}: "
                            f"{frame[column][row]!r}")
    values = pd.to_numeric(text.replace("", np.nan) if nullable else text)
    return values


# --- ratings -----------------------------------------------------------------------------------------------

def _locate_ratings_error(path: Path, sep: str, header: bool, encoding: str) -> PipelineError:
    """Re-read a ratings file as text to name its first malformed line."""
    lines = _read_lines(path, encoding)
    names = [C.USER_ID, C.ITEM_ID, C.RATING, C.TIMESTAMP]
    frame = _split_fields(path, lines, sep, names, first_line=1 if header else 0)
    for column in names:
        _to_number(path, frame, column, integer=column != C.RATING and column != C.TIMESTAMP)
    return PipelineError(f"{path}: could not be parsed, but no single bad line was found")


def _arrow_ratings(path: Path, sep: str, header: bool, encoding: str) -> pd.DataFrame:
    """Fast typed read. '::' files are read with ':' as the delimiter and the empty fields in between dropped."""
    names = [C.USER_ID, C.ITEM_ID, C.RATING, C.TIMESTAMP]
    if sep == "::":
        delimiter, read_names = ":", [names[0], "_1", names[1], "_2", names[2], "_3", names[3]]
    else:
        delimiter, read_names = sep, names
    types = {C.USER_ID: pa.int64(), C.ITEM_ID: pa.int64(), C.RATING: pa.float32(), C.TIMESTAMP: pa.float64()}
    types.update({n: pa.string() for n in read_names if n.startswith("_")})
    try:
        with _arrow_source(path, encoding) as (source, source_encoding):
            table = pacsv.read_csv(
                source,
                read_options=pacsv.ReadOptions(column_names=read_names, skip_rows=1 if header else 0,
                                               encoding=source_encoding, block_size=1 << 24),
                parse_options=pacsv.ParseOptions(delimiter=delimiter, quote_char=False, ignore_empty_lines=False),
                convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=False),
            )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        raise _locate_ratings_error(path, sep, header, encoding) from None
    spacers = [n for n in read_names if n.startswith("_")]
    for name in spacers:
        if pa.compute.any(pa.compute.not_equal(table[name], "")).as_py():
            raise _locate_ratings_error(path, sep, header, encoding)
    table = table.drop_columns(spacers)
    if table.num_rows and any(table[n].null_count for n in names):
        raise _locate_ratings_error(path, sep, header, encoding)
    frame = table.to_pandas()
    # Without a users file nothing else would stop a negative or zero id from becoming a user.
    _check_positive_ids(path, frame[C.USER_ID].to_numpy(), "user", first_line=2 if header else 1)
    _check_positive_ids(path, frame[C.ITEM_ID].to_numpy(), "movie", first_line=2 if header else 1)
    ts = frame[C.TIMESTAMP].to_numpy()
    frame[C.TIMESTAMP] = ts.astype(np.int64)
    return frame


def check_header(path: Path, expected: list[str], encoding: str = "utf-8") -> None:
    with open(path, encoding="utf-8-sig" if _has_bom(path) else encoding, newline="") as fh:
        first = fh.readline().rstrip("\r\n")
    found = [f.strip() for f in first.split(",")]
    if found[: len(expected)] != expected:
        raise PipelineError(f"{path}:1: expected the header {','.join(expected)}, found {first[:80]!r}")


def read_ratings(folder: Path, layout: str) -> pd.DataFrame:
    path = folder / LAYOUT_FILES[layout]["ratings"]
    if layout == "ml-100k":
        return _arrow_ratings(path, "\t", header=False, encoding="utf-8")
    if layout == "dat":
        return _arrow_ratings(path, "::", header=False, encoding="latin-1")
    if layout == "csv":
        check_header(path, ["userId", "movieId", "rating", "timestamp"])
        return _arrow_ratings(path, ",", header=True, encoding="utf-8")
    if layout == "recbole":
        return _arrow_ratings(path, "\t", header=True, encoding="utf-8")
    raise PipelineError(f"unknown layout {layout!r}")


def header_lines(layout: str) -> int:
    """Lines before the first rating, to turn a row number into a file line number."""
    return 1 if layout in ("csv", "recbole") else 0


# --- items -------------------------------------------------------------------------------------------------

_YEAR_IN_TITLE = re.compile(r"\s*\((\d{4})\)\s*$")


def _title_and_year(raw_titles: pd.Series) -> tuple[pd.Series, pd.Series]:
    """'Toy Story (1995)' -> ('Toy Story', 1995); titles without a year keep their text and get <NA>."""
    titles = raw_titles.astype(str).str.strip()
    years = titles.str.extract(_YEAR_IN_TITLE.pattern.replace(r"\s*$", "$"), expand=False)
    stripped = titles.str.replace(_YEAR_IN_TITLE, "", regex=True)
    return stripped, pd.to_numeric(years).astype("Int16")


def _items_frame(path: Path, ids: pd.Series, titles: pd.Series, years: pd.Series, genres: pd.Series) -> pd.DataFrame:
    _check_positive_ids(path, ids, "movie")
    items = pd.DataFrame({C.ITEM_ID: ids.astype(np.int64).to_numpy(), C.TITLE: titles.to_numpy(),
                          C.YEAR: years.astype("Int16").to_numpy(), C.GENRES: genres.to_numpy()})
    dup = items[C.ITEM_ID].duplicated()
    if dup.any():
        raise PipelineError(f"{path}: movie id {items[C.ITEM_ID][dup.idxmax()]} is listed twice")
    return items


def _normalise_genres(genres: pd.Series, sep: str) -> pd.Series:
    genres = genres.fillna("").astype(str).str.strip()
    genres = genres.str.split(sep, regex=False).map(
        lambda gs: "|".join(sorted({"unknown" if g in (NO_GENRES, "") else g for g in gs})))
    return genres


def read_items(folder: Path, layout: str) -> pd.DataFrame | None:
    path = folder / LAYOUT_FILES[layout]["items"]
    if not path.exists():
        return None
    if layout == "ml-100k":
        frame = _split_fields(path, _read_lines(path, "latin-1"), "|",
                              [C.ITEM_ID, "raw_title", "release", "video", "url", *ML100K_GENRES])
        ids = _to_number(path, frame, C.ITEM_ID, integer=True)
        flags = frame[ML100K_GENRES].apply(lambda col: _to_number(path, frame, col.name, integer=True))
        titles, years = _title_and_year(frame["raw_title"])
        release_year = pd.to_numeric(frame["release"].str.extract(r"(\d{4})\s*$", expand=False)).astype("Int16")
        years = years.fillna(release_year)
        order = sorted(ML100K_GENRES)
        labels = np.array([g + "|" for g in order], dtype=object)
        joined = np.where(flags[order].to_numpy().astype(bool), labels, "").sum(axis=1)
        genres = pd.Series(joined, index=frame.index, dtype=object).str.rstrip("|").replace("", "unknown")
        return _items_frame(path, ids, titles, years, genres)
    if layout == "dat":
        frame = _split_fields(path, _read_lines(path, "latin-1"), "::", [C.ITEM_ID, "raw_title", C.GENRES])
        ids = _to_number(path, frame, C.ITEM_ID, integer=True)
        titles, years = _title_and_year(frame["raw_title"])
        return _items_frame(path, ids, titles, years, _normalise_genres(frame[C.GENRES], "|"))
    if layout == "csv":
        check_header(path, ["movieId", "title", "genres"])
        try:
            with _arrow_source(path, "utf-8") as (source, encoding):
                table = pacsv.read_csv(source, read_options=pacsv.ReadOptions(encoding=encoding),
                                       convert_options=pacsv.ConvertOptions(column_types={
                                           "movieId": pa.string(), "title": pa.string(), "genres": pa.string()}))
        except pa.ArrowInvalid as exc:
            raise PipelineError(f"{path}: {exc}") from None
        frame = table.to_pandas()
        frame.index = frame.index + 1  # line numbers: the header is line 1
        frame = frame.rename(columns={"movieId": C.ITEM_ID})
        ids = _to_number(path, frame, C.ITEM_ID, integer=True)
        titles, years = _title_and_year(frame["title"])
        return _items_frame(path, ids, titles, years, _normalise_genres(frame["genres"], "|"))
    if layout == "recbole":
        frame = _split_fields(path, _read_lines(path, "utf-8"), "\t", [C.ITEM_ID, C.TITLE, C.YEAR, C.GENRES],
                              first_line=1)
        ids = _to_number(path, frame, C.ITEM_ID, integer=True)
        years = pd.to_numeric(frame[C.YEAR].where(frame[C.YEAR].str.fullmatch(r"\d{4}")), errors="coerce")
        return _items_frame(path, ids, frame[C.TITLE].str.strip(), years,
                            _normalise_genres(frame[C.GENRES], " "))
    raise PipelineError(f"unknown layout {layout!r}")


# --- users -------------------------------------------------------------------------------------------------

def _users_frame(path: Path, frame: pd.DataFrame, occupations: pd.Series) -> pd.DataFrame:
    ids = _to_number(path, frame, C.USER_ID, integer=True)
    _check_positive_ids(path, ids, "user")
    users = pd.DataFrame({
        C.USER_ID: ids.astype(np.int64).to_numpy(),
        C.GENDER: frame[C.GENDER].str.strip().str.upper().to_numpy(),
        C.AGE: _to_number(path, frame, C.AGE, integer=True).astype("Int16").to_numpy(),
        C.OCCUPATION: occupations.to_numpy(),
        C.ZIP: frame[C.ZIP].str.strip().to_numpy(),
    })
    bad_gender = ~users[C.GENDER].isin(["M", "F"])
    if bad_gender.any():
        row = frame.index[bad_gender.to_numpy().argmax()]
        raise PipelineError(f"{path}:{row + 1}: gender must be M or F, found {frame[C.GENDER][row]!r}")
    dup = users[C.USER_ID].duplicated()
    if dup.any():
        raise PipelineError(f"{path}: user id {users[C.USER_ID][dup.idxmax()]} is listed twice")
    return users


def read_users(folder: Path, layout: str) -> pd.DataFrame | None:
    name = LAYOUT_FILES[layout].get("users")
    path = folder / name if name else None
    if path is None or not path.exists():
        return None
    fields = [C.USER_ID, C.AGE, C.GENDER, C.OCCUPATION, C.ZIP]
    if layout == "ml-100k":
        frame = _split_fields(path, _read_lines(path, "latin-1"), "|", fields)
        return _users_frame(path, frame, frame[C.OCCUPATION].str.strip())
    if layout == "recbole":
        frame = _split_fields(path, _read_lines(path, "utf-8"), "\t", fields, first_line=1)
        return _users_frame(path, frame, frame[C.OCCUPATION].str.strip())
    if layout == "dat":
        frame = _split_fields(path, _read_lines(path, "latin-1"), "::",
                              [C.USER_ID, C.GENDER, C.AGE, C.OCCUPATION, C.ZIP])
        codes = _to_number(path, frame, C.OCCUPATION, integer=True)
        if not codes.between(0, len(ML1M_OCCUPATIONS) - 1).all():
            row = (~codes.between(0, len(ML1M_OCCUPATIONS) - 1)).idxmax()
            raise PipelineError(f"{path}:{row + 1}: occupation code must be 0..20, found {codes[row]}")
        return _users_frame(path, frame, pd.Series(np.array(ML1M_OCCUPATIONS, dtype=object)[codes.to_numpy()],
                                                   index=frame.index))
    return None
