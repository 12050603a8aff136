"""The cluster's extra jars (jvm/cluster-pom.xml: hadoop-aws matching pyspark's Hadoop client, and the
AWS SDK v2 bundle), fetched from Maven Central into a cache folder named after the pom's hash, as
govlake.jars does for delta-spark and openlineage-spark."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyspark

from govlake.jars import STAMP, fetch
from govlake.settings import Settings, get_settings


def pom(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).repo_root / "jvm" / "cluster-pom.xml"


def bundled_hadoop_version() -> str:
    """The Hadoop client pip's pyspark ships (hadoop-client-api-<v>.jar): hadoop-aws must match it."""
    jars = Path(pyspark.__file__).parent / "jars"
    found = sorted(jars.glob("hadoop-client-api-*.jar"))
    if not found:
        raise RuntimeError(f"no hadoop-client-api jar in {jars}")
    return found[0].name.removeprefix("hadoop-client-api-").removesuffix(".jar")


def cache_dir(settings: Settings | None = None) -> Path:
    s = settings or get_settings()
    return s.jars_cache_dir / ("cluster-" + hashlib.sha256(pom(s).read_bytes()).hexdigest()[:12])


def ensure(settings: Settings | None = None) -> list[Path]:
    s = settings or get_settings()
    target = cache_dir(s)
    if not (target / STAMP).exists():
        fetch(s, target, pom_file=pom(s), what="hadoop-aws and the AWS SDK bundle", must_have="hadoop-aws-*.jar")
    found = sorted(target.glob("*.jar"))
    want = bundled_hadoop_version()
    if not any(p.name == f"hadoop-aws-{want}.jar" for p in found):
        raise RuntimeError(f"jvm/cluster-pom.xml pins a hadoop-aws other than pyspark's Hadoop client {want}: "
                           f"{[p.name for p in found if p.name.startswith('hadoop-aws')]}")
    return found
