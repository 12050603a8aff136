"""`govlake api serve`: run the data-product API with uvicorn."""

from __future__ import annotations

import click


@click.group()
def api():
    """Data-product API (数据产品接口)."""


@api.command("serve")
@click.option("--host", default="127.0.0.1")
@click.option("--port", type=int, default=8000)
def serve(host, port):
    """Serve the API (no Spark: reads Delta through delta-rs)."""
    import uvicorn

    from govlake.api.app import create_app

    uvicorn.run(create_app(), host=host, port=port)
