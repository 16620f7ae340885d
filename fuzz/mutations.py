"""Byte-level mutations of valid study files, and the one invariant every read must keep (issue 18 item 8).

The invariant: ``mo.read(path, on_error="quarantine")`` either

* returns a Dataset with ``rows_read == rows_kept + rows_rejected`` whose every kept value equals a cell of the
  file's value column as a reader sees it (an independent strict parse of the raw cells, so a number read
  differently from how it is written — ``0x5`` as 5, ``1e-400`` as 0 — is a finding), or
* raises :class:`massage_outcomes.DataValidationError` whose report names the file (and, for a problem of a row,
  its row),

and never raises another exception type, runs past a time limit or takes the process past a memory limit.
Both the seeded CI run (``tests/io/test_hostile_fuzz.py``) and the long run (``fuzz/run.py``, with atheris or seeded) use
:func:`check`; each finding of a long run is saved as a regression file under ``tests/data/hostile/``.

Nothing here imports from the package's internals: only ``massage_outcomes.read`` and the error tree.
"""

from __future__ import annotations

import collections
import csv
import io
import random
import re
import time
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import massage_outcomes as mo
from massage_outcomes.errors import DataValidationError

SAMPLE = Path(mo.__file__).parent / "_sample" / "trial"
TIME_LIMIT = 10.0  # seconds per read of a seed-sized file: far above a normal read (~50 ms)
MEMORY_LIMIT_MB = 2048  # the process's peak resident size: a seed-sized file that inflates past it is a finding


def peak_mb() -> float:
    """The process's peak resident size so far, in MB (Linux: KiB in ru_maxrss)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def seeds() -> dict[str, bytes]:
    """Small valid files of each text and zip format: long CSV, semicolon/decimal-comma CSV, wide CSV, xlsx."""
    lines = (SAMPLE / "trial.csv").read_text(encoding="utf-8").splitlines()
    long = "\n".join(lines[:41]) + "\n"
    semi = long.replace(",", ";")
    semi = re.sub(r";(\d+)\n", lambda m: f";{m.group(1)},0\n", semi)  # decimal commas in the value column
    wide = ("subject,arm,condition,rmdq_baseline,rmdq_week_4,pain_nrs_baseline,pain_nrs_week_4\n"
            "1,a,LBP,12,7,6,3\n2,b,LBP,15,,7,5\n3,a,sciatica,9,4,,2\n")
    return {"long.csv": long.encode(), "semi.csv": semi.encode("cp1252"), "wide.csv": wide.encode(),
            "wide.xlsx": (SAMPLE / "wide" / "trial_wide.xlsx").read_bytes()}


# --------------------------------------------------------------------------------------------------------------
# mutations: each takes the bytes and a seeded Random and returns new bytes
# --------------------------------------------------------------------------------------------------------------
INTERESTING = [b"\x00", b'"', b",", b";", b"\t", b"\n", b"\r", b"\xff", b"\xef\xbb\xbf", b"\xc3", b"-", b".",
               b"\xe2\x80\x93", b"\xef\xbc\xa1", b"sep=;\n", b"0x", b"e-400", b"%", b" ", b"NA", b"\xa0"]
RESPELL = [b"0x5", b"5e0", b"05", b"1e-400", b"1e400", b"5%", b"5,0", b"5.0", b"+5", b"1_0", b"\xef\xbc\x95",
           b"-", b"\xe2\x80\x94", b"nan", b"inf", b"1.000,5", b"1,000", b"-9", b"999", b"5.", b".5", b"0X1F"]


def _flip(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    i = rng.randrange(len(data))
    return data[:i] + bytes([data[i] ^ (1 << rng.randrange(8))]) + data[i + 1:]


def _insert(data: bytes, rng: random.Random) -> bytes:
    i = rng.randrange(len(data) + 1)
    return data[:i] + rng.choice(INTERESTING) + data[i:]


def _delete(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    i = rng.randrange(len(data))
    return data[:i] + data[i + rng.randrange(1, 40):]


def _truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def _nul_tail(data: bytes, rng: random.Random) -> bytes:
    cut = rng.randrange(len(data) + 1)
    return data[:cut] + b"\x00" * rng.randrange(1, 5000)


def _reencode(data: bytes, rng: random.Random) -> bytes:
    text = data.decode("utf-8", errors="replace")
    enc = rng.choice(["utf-16", "utf-8-sig", "cp1252", "latin-1", "utf-16-le"])
    return text.encode(enc, errors="replace")


def _delimiter(data: bytes, rng: random.Random) -> bytes:
    return data.replace(b",", rng.choice([b";", b"\t", b"|", b":"]))


def _quoting(data: bytes, rng: random.Random) -> bytes:
    lines = data.split(b"\n")
    k = rng.randrange(len(lines))
    lines[k] = b'"' + lines[k].replace(b",", b'","') + b'"' if rng.random() < 0.7 else lines[k] + b'"'
    return b"\n".join(lines)


def _header(data: bytes, rng: random.Random) -> bytes:
    head, _, rest = data.partition(b"\n")
    cols = head.split(b",")
    if len(cols) < 2:
        return data
    i, j = rng.randrange(len(cols)), rng.randrange(len(cols))
    if rng.random() < 0.5:
        cols[i] = cols[j]  # a duplicated header
    else:
        cols[i] = rng.choice([b"Subject ID", b"VALUE", b"\xef\xbd\x96\xef\xbd\x81\xef\xbd\x8c\xef\xbd\x95\xef\xbd\x85",
                              b"", b" value ", b"score", b"day\xa0"])
    return b",".join(cols) + b"\n" + rest


def _shuffle(data: bytes, rng: random.Random) -> bytes:
    head, _, rest = data.partition(b"\n")
    body = rest.split(b"\n")
    rng.shuffle(body)
    return head + b"\n" + b"\n".join(body)


def _respell(data: bytes, rng: random.Random) -> bytes:
    cells = list(re.finditer(rb"(?<=[,;\t])\d+(?=[,;\t\r\n]|$)", data))
    if not cells:
        return data
    m = rng.choice(cells)
    return data[: m.start()] + rng.choice(RESPELL) + data[m.end():]


def _zip_entry(data: bytes, rng: random.Random) -> bytes:
    """Rewrite one entry of a zip container, mutated (a damaged sheet, a bomb-like padding, a dropped entry)."""
    try:
        src = zipfile.ZipFile(io.BytesIO(data))
        infos = src.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return _flip(data, rng)
    victim = rng.choice(infos).filename
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in infos:
            try:
                body = src.read(info.filename)
            except Exception:  # noqa: BLE001 - zlib.error, BadZipFile, EOFError...: any damage of an earlier round
                return _flip(data, rng)  # a seed damaged by an earlier round: flip instead
            if info.filename == victim:
                what = rng.random()
                if what < 0.2:
                    continue
                body = body + b" " * (9 << 20) if what < 0.3 else _respell(_flip(body, rng), rng)
            dst.writestr(info.filename, body)
    return out.getvalue()


TEXT_MUTATIONS: list[Callable[[bytes, random.Random], bytes]] = [
    _flip, _insert, _delete, _truncate, _nul_tail, _reencode, _delimiter, _quoting, _header, _shuffle, _respell,
]
ZIP_MUTATIONS: list[Callable[[bytes, random.Random], bytes]] = [_flip, _truncate, _zip_entry, _insert]


def mutate(name: str, data: bytes, rng: random.Random, *, rounds: int = 3) -> bytes:
    """``rounds`` (1 to ``rounds``) mutations of the seed, chosen by ``rng``."""
    pool = ZIP_MUTATIONS if name.endswith(".xlsx") else TEXT_MUTATIONS
    for _ in range(rng.randint(1, rounds)):
        data = rng.choice(pool)(data, rng)
    return data


# --------------------------------------------------------------------------------------------------------------
# the invariant
# --------------------------------------------------------------------------------------------------------------
@dataclass
class Outcome:
    kind: str  # "dataset" or "refused"
    rows_read: int = 0
    detail: str = ""


class Finding(AssertionError):
    """The invariant is broken: the message says how."""


_STRICT = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")


def _cells_as_read(path: Path, source: dict) -> collections.Counter:
    """The value column's cells that a reader sees as decimal numbers, from the raw text (an independent parse)."""
    raw = path.read_bytes()
    enc = str(source.get("encoding") or "utf-8")
    text = raw.decode(enc, errors="replace") if not enc.startswith("utf-16") else raw.decode("utf-16", "replace")
    text = text.lstrip("\ufeff").replace("\x00", "")
    lines = text.splitlines()
    if lines and re.match(r'^\s*"?sep=.', lines[0]):
        lines = lines[1:]
    rows = list(csv.reader(lines, delimiter=str(source.get("delimiter") or ",")))
    decimal_comma = source.get("decimal") == ","
    out: collections.Counter = collections.Counter()
    for row in rows[1:]:
        for cell in row:
            cell = cell.replace(",", ".") if decimal_comma and "." not in cell else cell
            if _STRICT.match(cell):
                out[float(cell)] += 1
    return out


def check(name: str, data: bytes, folder: Path, *, time_limit: float = TIME_LIMIT) -> Outcome:
    """Read ``data`` as a file called ``name`` and check the invariant; raise :class:`Finding` when it breaks."""
    path = folder / name
    path.write_bytes(data)
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = mo.read(path, on_error="quarantine")
    except DataValidationError as err:
        _check_refusal(err, name)
        outcome = Outcome("refused", detail=str(err).splitlines()[0][:200])
    except Exception as err:  # anything else is a finding
        raise Finding(f"{type(err).__name__}: {err}") from err
    else:
        outcome = _check_dataset(ds, path, name)
    elapsed = time.perf_counter() - t0
    if elapsed > time_limit:
        raise Finding(f"the read took {elapsed:.1f} s (limit {time_limit:g} s)")
    if peak_mb() > MEMORY_LIMIT_MB:
        raise Finding(f"the process's peak memory reached {peak_mb():.0f} MB (limit {MEMORY_LIMIT_MB} MB)")
    return outcome


def _check_refusal(err: DataValidationError, name: str) -> None:
    report = getattr(err, "report", None)
    if report is None:
        raise Finding(f"DataValidationError without a report: {err}")
    frame = report.to_frame()
    if not len(frame):
        raise Finding(f"DataValidationError with an empty report: {err}")
    if not frame["file"].astype(str).str.contains(re.escape(name), regex=True).all():
        raise Finding(f"a problem that does not name the file: {frame.to_dict('records')[:3]}")


def _check_dataset(ds: mo.Dataset, path: Path, name: str) -> Outcome:
    src = ds.source
    read, kept, rejected = src["rows_read"], src["rows_kept"], src["rows_rejected"]
    if read != kept + rejected:
        raise Finding(f"rows_read {read} != rows_kept {kept} + rows_rejected {rejected}")
    if len(ds.rejected) != rejected or len(ds.outcomes) != kept:
        raise Finding(f"{len(ds.outcomes)} outcomes and {len(ds.rejected)} rejected rows, source says {kept}/"
                      f"{rejected}")
    if not name.endswith(".xlsx"):
        cells = _cells_as_read(path, src)
        values = collections.Counter(float(v) for v in ds.outcomes["value"].tolist())
        missing = values - cells
        if missing:
            raise Finding(f"kept values not written as such in the file: {dict(list(missing.items())[:5])}")
    return Outcome("dataset", rows_read=read)


def regression_name(name: str, data: bytes) -> str:
    """A stable file name for a finding: the seed's stem, a hash of the bytes, the seed's suffix."""
    import hashlib

    stem, _, suffix = name.rpartition(".")
    return f"{stem}-{hashlib.sha1(data).hexdigest()[:10]}.{suffix}"


__all__ = ["seeds", "mutate", "check", "Finding", "Outcome", "regression_name", "TIME_LIMIT", "MEMORY_LIMIT_MB",
           "peak_mb"]
