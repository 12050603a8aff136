"""`govlake api serve`: run the data-product API with uvicorn."""

from __future__ import annotations

import click


WORKER_HEALTHCHECK_S = 120


@click.group()
def api():
    """Data-product API (数据产品接口)."""


@api.command("serve")
@click.option("--host", default="127.0.0.1")
@click.option("--port", type=int, default=8000)
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="worker processes (工作进程数): each holds its own copy of the released snapshots in "
                   "memory; rate buckets, audit and grants are shared through the lake's _platform files")
def serve(host, port, workers):
    """Serve the API (no Spark: reads Delta through delta-rs)."""
    import uvicorn

    if workers == 1:
        from govlake.api.app import create_app

        uvicorn.run(create_app(), host=host, port=port)
    else:  # uvicorn starts each worker from the factory's import path (spawned processes)
        # a worker loading a large snapshot, or starting on a busy host, can take longer than uvicorn's
        # 5 s to answer its supervisor's health check: it would be killed and restarted, forever
        uvicorn.run("govlake.api.app:create_app", factory=True, host=host, port=port, workers=workers,
                    timeout_worker_healthcheck=WORKER_HEALTHCHECK_S)
