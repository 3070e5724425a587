"""Dataset files hashed locally: finding the files, streaming each through SHA-256, the
manifest and its canonical form, whose SHA-256 is the dataset version's ``content_digest``.

This is the same computation as ``modeltrail dataset register``, so the SDK and the CLI give the
same digest for the same files:

* every regular file under the paths given (directories walked recursively; symlinks inside
  them are not followed), in the byte order of their manifest paths;
* a manifest path is relative to the deepest directory holding every argument (a file
  argument counts as its directory), with ``/`` between components;
* the canonical form is what ``sha256sum`` prints for the files, one line
  ``<sha256 hex>  <path>\\n`` (two spaces) per file; ``content_digest`` is its SHA-256.

The bytes never leave the machine for the digest; only CSV and Parquet files are uploaded, and
only when asked, for the server to profile.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Union

__all__ = [
    "DatasetFile",
    "find_files",
    "sha256_file",
    "hash_files",
    "content_digest",
    "dataset_format",
    "upload_content_type",
]

#: Bytes read from a file at a time while hashing.
READ_CHUNK = 1 << 20

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class DatasetFile:
    """One file of a dataset: where it is on disk, its manifest path, its SHA-256 (hex) and
    size once hashed."""

    disk_path: Path
    path: str
    sha256: str = ""
    size_bytes: int = 0

    def manifest_entry(self) -> Dict[str, object]:
        """The file's manifest entry: ``path``, ``sha256``, ``size_bytes``."""
        return {"path": self.path, "sha256": self.sha256, "size_bytes": self.size_bytes}


def _locate(argument: Path) -> Path:
    """The argument as an absolute path: its directory resolved, its own name kept."""
    absolute = Path(os.path.abspath(argument))
    if absolute.name:
        return absolute.parent.resolve() / absolute.name
    return absolute.resolve()


def _walk(directory: Path, found: List[Path]) -> None:
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                _walk(Path(entry.path), found)
            elif entry.is_file(follow_symlinks=False):
                found.append(Path(entry.path))
            # symlinks and special files inside a directory are passed over


def _common_root(anchors: Sequence[Path]) -> Path:
    parts = list(anchors[0].parts)
    for anchor in anchors[1:]:
        shared = 0
        for a, b in zip(parts, anchor.parts):
            if a != b:
                break
            shared += 1
        parts = parts[:shared]
    return Path(*parts) if parts else Path("/")


def _manifest_path(root: Path, file: Path) -> str:
    try:
        relative = file.relative_to(root)
    except ValueError:
        raise ValueError(f"{file} is not under {root}") from None
    parts = relative.parts
    if not parts:
        raise ValueError(f"{file}: no path relative to {root}")
    for part in parts:
        if any(c in part for c in "\n\r\\"):
            raise ValueError(
                f"{file}: a name with a newline or backslash has no unambiguous line in the "
                "manifest's canonical form; rename it"
            )
        try:
            part.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"{file}: the name is not UTF-8") from None
    return "/".join(parts)


def find_files(paths: Iterable[PathLike]) -> List[DatasetFile]:
    """Every regular file of ``paths`` with its manifest path, sorted by that path (byte
    order). A missing path or no file at all is an error."""
    found: List[Path] = []
    anchors: List[Path] = []
    for argument in paths:
        given = Path(argument)
        if not given.exists():
            raise FileNotFoundError(f"{given}: no such file or directory")
        located = _locate(given)
        if given.is_dir():
            _walk(located, found)
            anchors.append(located)
        elif given.is_file():
            anchors.append(located.parent)
            found.append(located)
        else:
            raise ValueError(f"{given} is neither a file nor a directory")
    if not anchors:
        raise ValueError("no paths given")
    root = _common_root(anchors)
    files: Dict[str, DatasetFile] = {}
    for disk in found:
        path = _manifest_path(root, disk)
        files.setdefault(path, DatasetFile(disk_path=disk, path=path))
    if not files:
        raise ValueError("no files to register under the paths given")
    return [files[p] for p in sorted(files, key=lambda p: p.encode("utf-8"))]


def sha256_file(path: PathLike, chunk: int = READ_CHUNK) -> "tuple[str, int]":
    """Streams a file through SHA-256; its hex digest and size. Memory use is one chunk."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while True:
            block = f.read(chunk)
            if not block:
                break
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def hash_files(files: Sequence[DatasetFile]) -> List[DatasetFile]:
    """Each file with its SHA-256 and size, streamed from disk."""
    hashed = []
    for file in files:
        sha256, size = sha256_file(file.disk_path)
        hashed.append(DatasetFile(file.disk_path, file.path, sha256, size))
    return hashed


def content_digest(files: Sequence[DatasetFile]) -> str:
    """SHA-256 (hex) of the manifest's canonical form, ``<sha256>  <path>\\n`` per file in path
    order: what ``sha256sum`` prints for the files, hashed."""
    digest = hashlib.sha256()
    for file in sorted(files, key=lambda f: f.path.encode("utf-8")):
        digest.update(f"{file.sha256}  {file.path}\n".encode("utf-8"))
    return digest.hexdigest()


def _file_format(path: str) -> Optional[str]:
    name = path.rsplit("/", 1)[-1]
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem:
        return None
    extension = extension.lower()
    return "parquet" if extension in ("parquet", "pq") else extension


def dataset_format(files: Sequence[DatasetFile]) -> Optional[str]:
    """The one format all files share by extension (``csv``, ``parquet``...), ``mixed`` when
    they differ, None when no file has an extension."""
    formats = [_file_format(f.path) for f in files]
    if all(f is None for f in formats):
        return None
    if len(set(formats)) == 1:
        return formats[0]
    return "mixed"


def upload_content_type(path: str) -> Optional[str]:
    """The media type a file is uploaded with, or None for a file the server does not
    profile."""
    return {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}.get(
        _file_format(path) or ""
    )
