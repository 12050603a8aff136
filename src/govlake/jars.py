"""The jars Spark loads beside pip's pyspark (delta-spark, openlineage-spark), pinned in
`jvm/pom.xml` and copied from Maven Central into a local cache on first use.

The cache folder is named after the pom's hash, so a changed pin fetches anew and a second run
(or another clone with the same pins) needs no network. Maven keeps its own copy in ~/.m2 too.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from govlake.settings import Settings, get_settings

STAMP = ".complete"


def pom(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).repo_root / "jvm" / "pom.xml"


def cache_dir(settings: Settings | None = None) -> Path:
    s = settings or get_settings()
    digest = hashlib.sha256(pom(s).read_bytes()).hexdigest()[:12]
    return s.jars_cache_dir / digest


def ensure(settings: Settings | None = None) -> list[Path]:
    """The pinned jars, fetched into the cache if they are not there yet."""
    s = settings or get_settings()
    target = cache_dir(s)
    if not (target / STAMP).exists():
        fetch(s, target)
    return sorted(target.glob("*.jar"))


def fetch(settings: Settings, target: Path, *, pom_file: Path | None = None,
          what: str = "the pinned Spark jars (Delta, OpenLineage)", must_have: str = "delta-spark_*.jar") -> None:
    """Copy the jars a pom pins (jvm/pom.xml by default) from Maven Central into target."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise RuntimeError(f"Maven (mvn) is needed once to fetch {what} from Maven Central into {target}: "
                           "apt-get install -y maven")
    target.parent.mkdir(parents=True, exist_ok=True)
    # Copied into a sibling folder, then renamed: a cache folder is complete or absent.
    tmp = Path(tempfile.mkdtemp(prefix=".fetch-", dir=target.parent))
    try:
        r = subprocess.run([mvn, "-q", "-B", "-f", str(pom_file or pom(settings)), "dependency:copy-dependencies",
                            f"-DoutputDirectory={tmp}"], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"fetching {what} failed (mvn exit {r.returncode}):\n{r.stdout[-3000:]}{r.stderr[-2000:]}")
        if not any(tmp.glob(must_have)):
            raise RuntimeError(f"mvn copied no {must_have} into {tmp}")
        (tmp / STAMP).write_text("\n".join(sorted(p.name for p in tmp.glob("*.jar"))) + "\n")
        try:
            os.rename(tmp, target)
        except OSError:  # another process finished first: keep its folder
            if not (target / STAMP).exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
