"""Enterprise services (企业服务): 诉求直达 requests against a catalog of 147 services with standard
forms (`enterprise_requests`), 挂点服务 officials for key enterprises (`key_enterprises`), one file
per enterprise (`enterprise_file`) and relocation warnings (`relocation`). docs/services.md."""
