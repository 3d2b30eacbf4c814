"""Unpacking an uploaded zip archive safely: a fresh folder, no path escapes, bounded size.

A zip from a stranger can name entries ``/etc/passwd`` or ``../../x`` (zip-slip), hold
symbolic links that point out of the folder, or declare terabytes that a few kilobytes
decompress to (a zip bomb). :func:`extract_zip` checks every entry before writing anything,
refuses the archive as a whole if one entry is suspect or if it would not leave
``MIN_FREE_BYTES`` of the disk free, and unpacks only into a folder it creates itself.
Sizes are in MB (10^6 bytes) everywhere, in the limits and in the messages.
"""

from __future__ import annotations

import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath, PureWindowsPath

from .tracks import DataError

__all__ = ["MAX_ENTRIES", "MAX_TOTAL_BYTES", "MIN_FREE_BYTES", "extract_zip"]

MB = 10**6
MAX_TOTAL_BYTES = 2_000 * MB  # sum of the declared uncompressed sizes
MIN_FREE_BYTES = 500 * MB  # left free on the disk after unpacking, for everything else
MAX_ENTRIES = 20_000
_CHUNK = 1 << 20


def _mb(size: int) -> str:
    return f"{max(size, 0) / MB:.0f} MB"


def _entry_problem(info: zipfile.ZipInfo) -> str | None:
    """Why an entry may not be extracted, or None."""
    name = info.filename
    if "\x00" in name:
        return "contains a NUL character"
    posix = PurePosixPath(name.replace("\\", "/"))
    if posix.is_absolute() or PureWindowsPath(name).drive or name.startswith(("\\", "/")):
        return "is an absolute path"
    if ".." in posix.parts:
        return "climbs out of the folder ('..')"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "is a symbolic link"
    if info.flag_bits & 0x1:
        return "is encrypted"
    return None


def extract_zip(
    path,
    parent=None,
    *,
    max_bytes: int = MAX_TOTAL_BYTES,
    max_entries: int = MAX_ENTRIES,
    min_free_bytes: int = MIN_FREE_BYTES,
) -> Path:
    """Extracts a zip archive into a new folder after checking every entry.

    The whole archive is refused, before anything is written, when an entry has an absolute
    path, a ``..`` component, is a symbolic link or encrypted, when it has more than
    ``max_entries`` entries, when the declared sizes add up to more than ``max_bytes``, or when
    unpacking them would leave less than ``min_free_bytes`` free on the disk. Writing also stops
    at either limit whatever the headers claim.

    Args:
        path: the zip file.
        parent: the folder to create the new folder in (default: the system temp folder).
        max_bytes: the most bytes the archive may unpack to.
        max_entries: the most entries (files and folders) it may hold.
        min_free_bytes: the disk space that must stay free after unpacking.

    Returns:
        The new folder holding the archive's contents; the caller removes it when done.

    Raises:
        DataError: not a readable zip archive, or refused for one of the reasons above (the
            message names the entry).
    """
    path = Path(path)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise DataError(f"{path.name} is not a readable zip archive: {err}") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > max_entries:
            raise DataError(f"{path.name} holds {len(infos)} entries; at most {max_entries} are accepted")
        for info in infos:
            problem = _entry_problem(info)
            if problem:
                raise DataError(f"{path.name} refused: entry {info.filename!r} {problem}")
        declared = sum(info.file_size for info in infos)
        if declared > max_bytes:
            raise DataError(f"{path.name} would unpack to {_mb(declared)}; at most {_mb(max_bytes)} are accepted")
        room = shutil.disk_usage(parent or tempfile.gettempdir()).free - min_free_bytes
        if declared > room:
            raise DataError(
                f"{path.name} would unpack to {_mb(declared)}, but the disk has only "
                f"{_mb(room + min_free_bytes)} free and keeps {_mb(min_free_bytes)} for other work; try again later"
            )
        dest = Path(tempfile.mkdtemp(prefix="unzip-", dir=parent)).resolve()
        try:
            _extract(archive, infos, dest, min(max_bytes, room), path.name)
        except BaseException:
            shutil.rmtree(dest, ignore_errors=True)
            raise
    return dest


def _extract(archive: zipfile.ZipFile, infos, dest: Path, max_bytes: int, name: str) -> None:
    written = 0
    for info in infos:
        target = dest.joinpath(*PurePosixPath(info.filename.replace("\\", "/")).parts)
        if not target.resolve().is_relative_to(dest):  # belt and braces after _entry_problem
            raise DataError(f"{name} refused: entry {info.filename!r} leaves the folder")
        try:
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as src, open(target, "xb") as out:
                while chunk := src.read(_CHUNK):
                    written += len(chunk)
                    if written > max_bytes:
                        raise DataError(f"{name} unpacks to more than {_mb(max_bytes)}; refused")
                    out.write(chunk)
        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError) as err:
            raise DataError(f"cannot extract {info.filename!r} from {name}: {err}") from None
