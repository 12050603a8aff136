"""FastAPI service over the published data products: `govlake.api.app:create_app(settings)`."""
