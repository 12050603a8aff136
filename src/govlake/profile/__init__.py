"""Enterprise profile (一企一画像), enterprise tags, policy profile and tags: SQL generated from
catalog/, built with Spark (dbt or directly), published to gold. See docs/profile.md."""


def build_profile(spark, lake, as_of, *, incremental: bool = False, parent_run=None, engine: str = "direct") -> dict:
    from govlake.profile.build import build_profile as _build

    return _build(spark, lake, as_of, incremental=incremental, parent_run=parent_run, engine=engine)


__all__ = ["build_profile"]
