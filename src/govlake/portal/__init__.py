"""公共数据服务门户 (public data service portal): server-rendered pages under /portal for people
(accounts of govlake.access), mounted in the API app with `app.include_router(router)` from
govlake.portal.pages. See docs/portal.md."""
