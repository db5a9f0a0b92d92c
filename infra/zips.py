"""Deterministic zips: the same files always give the same bytes (sorted entries, one fixed timestamp,
fixed permissions, fixed compression), so a rebuild can be compared by its sha256."""

from __future__ import annotations

import hashlib
import stat
import zipfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

# The earliest timestamp a zip entry can hold, for every entry.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def mode_for(name: str, executable: bool) -> int:
    path = PurePosixPath(name)
    return 0o755 if executable or path.suffix == ".so" or ".so." in path.name else 0o644


def write_zip(target: Path, files: Iterable[tuple[str, Path]]) -> None:
    """Zip ``(archive name, source file)`` pairs: sorted, fixed time and modes, deflate level 9."""
    entries = sorted(files, key=lambda item: item[0])
    names = [name for name, _ in entries]
    if len(names) != len(set(names)):
        raise ValueError(f"duplicate entries in {target.name}")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, source in entries:
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so the modes below are honoured when unpacked
            executable = bool(source.stat().st_mode & stat.S_IXUSR)
            info.external_attr = (stat.S_IFREG | mode_for(name, executable)) << 16
            zf.writestr(info, source.read_bytes(), compresslevel=9)
    tmp.replace(target)


def tree_files(root: Path) -> list[tuple[str, Path]]:
    """Every file under ``root`` as ``(posix relative path, path)``."""
    return [(p.relative_to(root).as_posix(), p) for p in sorted(root.rglob("*")) if p.is_file()]


def unzipped_size(path: Path) -> tuple[int, int]:
    """(bytes, files) once unpacked."""
    with zipfile.ZipFile(path) as zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        return sum(i.file_size for i in infos), len(infos)


def extract(path: Path, target: Path) -> None:
    """Unpack keeping the unix modes (``ZipFile.extractall`` drops them)."""
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            out = zf.extract(info, target)
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                Path(out).chmod(mode)


def content_sha256(path: Path) -> str:
    """A fingerprint of what a zip holds (names, modes, bytes), independent of the compressor: two
    builds with another zlib give other zip bytes but the same content hash."""
    digest = hashlib.sha256()
    with zipfile.ZipFile(path) as zf:
        for info in sorted(zf.infolist(), key=lambda i: i.filename):
            digest.update(f"{info.filename}\0{info.external_attr >> 16:o}\0{info.file_size}\0".encode())
            digest.update(zf.read(info))
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
