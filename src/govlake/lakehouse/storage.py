"""Where the lake lives: a local folder, or a prefix of an S3-compatible bucket (Settings.lake_root,
a URI). The one place that turns the lake's paths into what each reader needs:

- Spark (delta-spark, s3a): `str(path)`, `s3a://bucket/key` (a local path as it is);
- delta-rs: `delta_table(path)` / `delta_uri(path)` + `delta_options(path)`, `s3://bucket/key`
  with the storage options built from the settings here, once;
- plain files (staged Parquet, listings, the landing zone's extracts): `filesystem(path)`, a
  pyarrow.fs filesystem and the path inside it.

A local lake's paths stay pathlib.Path (everything as before); a lake in the bucket hands out
LakePath, which implements the part of Path's interface the lake's code uses over pyarrow's S3
filesystem. A LakePath pickles (its options, not a connection): Spark's Python workers write
through it.

Commits by delta-rs to S3 rely on the store's conditional put (`If-None-Match: *` on the log's
next version): delta-rs 1.x has no locking provider, and unsafe rename stays off, so a store that
does not honour it makes concurrent writers fail rather than overwrite each other
(docs/scale-out.md).
"""

from __future__ import annotations

import fnmatch
import io
import posixpath
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Union
from urllib.parse import urlparse

if TYPE_CHECKING:
    from deltalake import DeltaTable

REMOTE_SCHEMES = ("s3a", "s3")


def is_remote(uri: str | Path) -> bool:
    return isinstance(uri, str) and uri.split("://", 1)[0].lower() in REMOTE_SCHEMES and "://" in uri


def normalise_uri(v) -> str:
    """A lake URI as Settings keeps it: s3:// and s3a:// as s3a://bucket/prefix (no trailing
    slash); file:// and plain paths as an absolute local path."""
    if isinstance(v, (LakePath, Path)):
        return str(v)
    v = str(v)
    if is_remote(v):
        u = urlparse(v)
        if not u.netloc:
            raise ValueError(f"lake_root {v!r}: no bucket (expected s3a://bucket/prefix) (湖路径缺少存储桶)")
        return f"s3a://{u.netloc}/{u.path.strip('/')}".rstrip("/")
    if "://" in v:
        u = urlparse(v)
        if u.scheme != "file":
            raise ValueError(f"lake_root {v!r}: only a local path, file://, s3a:// or s3:// (湖路径协议不支持)")
        return u.path
    return v


@dataclass(frozen=True)
class S3Options:
    """The object store's endpoint and keys, from the settings (or the AWS_* variables)."""

    endpoint: str | None
    access_key: str | None
    secret_key: str | None
    region: str

    @property
    def http(self) -> bool:
        return bool(self.endpoint) and self.endpoint.startswith("http://")

    def delta(self) -> dict[str, str]:
        """delta-rs's storage options. No AWS_S3_ALLOW_UNSAFE_RENAME: a commit is a conditional
        put of the log's next version (module docstring)."""
        out = {"AWS_REGION": self.region, "AWS_VIRTUAL_HOSTED_STYLE_REQUEST": "false",
               "aws_conditional_put": "etag"}
        if self.endpoint:
            out["AWS_ENDPOINT_URL"] = self.endpoint
        if self.http:
            out["AWS_ALLOW_HTTP"] = "true"
        if self.access_key:
            out |= {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key or ""}
        return out

    def spark(self) -> dict[str, str]:
        """s3a's Hadoop settings for a Spark session."""
        out = {"spark.hadoop.fs.s3a.path.style.access": "true",
               "spark.hadoop.fs.s3a.endpoint.region": self.region,
               "spark.hadoop.fs.s3a.connection.ssl.enabled": "false" if self.http else "true",
               # Delta on s3a: one writing driver per table at a time (the pipeline's run lock)
               "spark.delta.logStore.s3a.impl": "io.delta.storage.S3SingleDriverLogStore"}
        if self.endpoint:
            out["spark.hadoop.fs.s3a.endpoint"] = self.endpoint
        if self.access_key:
            out |= {"spark.hadoop.fs.s3a.access.key": self.access_key,
                    "spark.hadoop.fs.s3a.secret.key": self.secret_key or ""}
        return out

    def filesystem(self):
        return _s3_filesystem(self)


@lru_cache(maxsize=8)
def _s3_filesystem(o: S3Options):
    from pyarrow import fs

    kw = {"region": o.region, "force_virtual_addressing": False}
    if o.endpoint:
        u = urlparse(o.endpoint)
        kw |= {"endpoint_override": u.netloc or o.endpoint, "scheme": u.scheme or "https"}
    if o.access_key:
        kw |= {"access_key": o.access_key, "secret_key": o.secret_key or ""}
    return fs.S3FileSystem(**kw)


def s3_options(settings) -> S3Options:
    return S3Options(settings.s3_endpoint, settings.s3_access_key, settings.s3_secret_key, settings.s3_region)


class _Stat:
    def __init__(self, size: int, mtime: float):
        self.st_size, self.st_mtime = size, mtime


class LakePath:
    """A path in the bucket (`bucket/key` inside, `s3a://bucket/key` outside)."""

    __slots__ = ("key", "options")

    def __init__(self, key: str, options: S3Options):
        self.key = key.strip("/")
        self.options = options

    # -- naming -------------------------------------------------------------------------------
    def __str__(self) -> str:
        return f"s3a://{self.key}"

    def __repr__(self) -> str:
        return f"LakePath({str(self)!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, LakePath) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __lt__(self, other: "LakePath") -> bool:  # sorted(), as for Path
        return self.key < other.key

    def __truediv__(self, part) -> "LakePath":
        return LakePath(posixpath.join(self.key, str(part)), self.options)

    def __reduce__(self):
        return (LakePath, (self.key, self.options))

    @property
    def name(self) -> str:
        return posixpath.basename(self.key)

    @property
    def stem(self) -> str:
        return PurePosixPath(self.key).stem

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.key).suffix

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(self.key.split("/"))

    def joinpath(self, *parts) -> "LakePath":
        return LakePath(posixpath.join(self.key, *map(str, parts)), self.options)

    @property
    def parent(self) -> "LakePath":
        return LakePath(posixpath.dirname(self.key), self.options)

    def relative_to(self, other: "LakePath") -> PurePosixPath:
        return PurePosixPath(self.key).relative_to(other.key)

    def as_posix(self) -> str:
        return str(self)

    @property
    def delta_uri(self) -> str:
        return f"s3://{self.key}"

    # -- the store ----------------------------------------------------------------------------
    @property
    def fs(self):
        return self.options.filesystem()

    def _info(self):
        return self.fs.get_file_info(self.key)

    def exists(self) -> bool:
        from pyarrow import fs

        return self._info().type != fs.FileType.NotFound

    def is_dir(self) -> bool:
        from pyarrow import fs

        return self._info().type == fs.FileType.Directory

    def is_file(self) -> bool:
        from pyarrow import fs

        return self._info().type == fs.FileType.File

    def has_files(self) -> bool:
        """A file directly under this prefix (an object store may list an emptied folder)."""
        from pyarrow import fs

        infos = self.fs.get_file_info(fs.FileSelector(self.key, recursive=False, allow_not_found=True))
        return any(i.type == fs.FileType.File for i in infos)

    def mkdir(self, **_path_options) -> None:
        """An object store has no folders: a prefix exists once a file is under it."""

    def stat(self) -> _Stat:
        """A file's size and time; a folder (a prefix): its newest file's time, so a staging
        folder still being written is not taken for an old one."""
        from pyarrow import fs

        i = self._info()
        if i.type == fs.FileType.Directory:
            infos = self.fs.get_file_info(fs.FileSelector(self.key, recursive=True, allow_not_found=True))
            times = [x.mtime.timestamp() for x in infos if x.mtime is not None]
            return _Stat(0, max(times, default=0.0))
        return _Stat(i.size or 0, i.mtime.timestamp() if i.mtime else 0.0)

    def iterdir(self):
        from pyarrow import fs

        # absent (or a file, nothing under its key + "/"): an empty listing, no error
        infos = self.fs.get_file_info(fs.FileSelector(self.key, recursive=False, allow_not_found=True))
        return iter(sorted((LakePath(i.path, self.options) for i in infos), key=lambda p: p.key))

    def glob(self, pattern: str):
        """Path.glob for patterns of plain segments ("*.parquet", "*/*", "2026-*/part-*")."""
        level = [self]
        for seg in pattern.split("/"):
            level = [c for p in level for c in p.iterdir() if fnmatch.fnmatchcase(c.name, seg)]
        return iter(level)

    def rglob(self, pattern: str):
        from pyarrow import fs

        infos = self.fs.get_file_info(fs.FileSelector(self.key, recursive=True, allow_not_found=True))
        return iter(sorted((LakePath(i.path, self.options) for i in infos if fnmatch.fnmatchcase(posixpath.basename(i.path), pattern)),
                           key=lambda p: p.key))

    def unlink(self, missing_ok: bool = False) -> None:
        try:
            self.fs.delete_file(self.key)
        except FileNotFoundError:
            if not missing_ok:
                raise

    def rename(self, target: "LakePath") -> "LakePath":
        self.fs.move(self.key, target.key)
        return target

    def read_bytes(self) -> bytes:
        with self.fs.open_input_stream(self.key) as f:
            return f.read()

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.read_bytes().decode(encoding)

    def write_bytes(self, data: bytes) -> int:
        with self.fs.open_output_stream(self.key) as f:
            f.write(data)
        return len(data)

    def write_text(self, text: str, encoding: str = "utf-8") -> int:
        return self.write_bytes(text.encode(encoding))

    def open(self, mode: str = "rb"):
        """A binary file object: "rb" the object's bytes in memory (landing extracts are parts
        of bounded size), seekable; "wb" uploaded when closed."""
        if mode == "rb":
            return io.BytesIO(self.read_bytes())
        if mode == "wb":
            return _Upload(self)
        raise ValueError(f"LakePath.open: mode {mode!r} (only rb, wb)")


class _Upload(io.BytesIO):
    def __init__(self, path: LakePath):
        super().__init__()
        self._path = path

    def close(self) -> None:
        if not self.closed:
            self._path.write_bytes(self.getvalue())
        super().close()


AnyPath = Union[Path, LakePath]


def lake_path(settings) -> AnyPath:
    """The lake's root: a Path when local, a LakePath in the bucket."""
    return as_path(settings.lake_root, settings)


def as_path(p, settings=None) -> AnyPath:
    """A path or a URI string as a lake path (a remote URI needs the settings, for its keys)."""
    if isinstance(p, (Path, LakePath)):
        return p
    if is_remote(str(p)):
        if settings is None:
            raise ValueError(f"{p}: a path in the object store needs the settings (its endpoint and keys)")
        u = urlparse(str(p))
        return LakePath(u.netloc + u.path, s3_options(settings))
    return Path(normalise_uri(p))


# -- readers and writers --------------------------------------------------------------------------

def delta_uri(p: AnyPath) -> str:
    return p.delta_uri if isinstance(p, LakePath) else str(p)


def delta_options(p: AnyPath) -> dict[str, str] | None:
    return p.options.delta() if isinstance(p, LakePath) else None


def delta_table(p: AnyPath, version: int | None = None) -> "DeltaTable":
    from deltalake import DeltaTable

    return DeltaTable(delta_uri(p), version=version, storage_options=delta_options(p))


def filesystem(p: AnyPath):
    """(pyarrow filesystem, the path inside it)."""
    if isinstance(p, LakePath):
        return p.fs, p.key
    from pyarrow import fs

    return fs.LocalFileSystem(), str(p)


def fs_path(p: AnyPath) -> str:
    return p.key if isinstance(p, LakePath) else str(p)


def open_file(p: AnyPath, mode: str = "rb"):
    """A binary file of the lake, local or in the bucket."""
    return p.open(mode) if isinstance(p, LakePath) else open(p, mode)


def rmtree(p: AnyPath) -> None:
    """Remove a folder and what is under it; nothing if absent."""
    if isinstance(p, LakePath):
        # the objects first: SeaweedFS's filer keeps a folder entry that delete_dir may not
        # find (an empty prefix, which is_delta does not take for a table)
        for step in (lambda: p.fs.delete_dir_contents(p.key, missing_dir_ok=True), lambda: p.fs.delete_dir(p.key)):
            try:
                step()
            except OSError:
                pass
        return
    import shutil

    shutil.rmtree(p, ignore_errors=True)


def spark_conf(settings) -> dict[str, str]:
    """A Spark session's settings for the lake: s3a's when it is in the bucket, none when local."""
    if settings.lake_is_local:
        return {}
    return s3_options(settings).spark()
