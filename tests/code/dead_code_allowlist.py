"""Names vulture reports as unused that a framework or a file format uses: each line says who.
Read by tests/code/test_code_health.py; never imported."""
# ruff: noqa
_.text_zh  # catalog/policies/*.yaml fields, kept for the policy texts (pydantic)
_.title_zh
_.source_url
_.window_open
_.window_close
_.manual_checks
_.note  # catalog/products.yaml field (pydantic)
_.model_config  # pydantic-settings
_.list_commands  # click.Group overrides: the CLI's lazy subcommands
_.get_command
_._producer  # OpenLineage facets serialise it
_.progress_bars  # GX data context setting
_._date_time  # jsonschema format checkers, registered by decorator
_._uri
_.row_factory  # sqlite3 connection attribute
_.product_view  # catalog/products.yaml `view:`, imported by name (api/app.py)
_.category_score  # PetitionForm fields: asdict() into the API answer and gold.petition_forms
_.request_type_confidence
_.suppressed  # PushReport field: push_run returns vars(report)
_.govlake_daily_dag  # Airflow's DagBag collects the DAG objects of dags/*.py
_.outcomes_version  # MatchCommit field: govlake policy match prints the commit
_.eventTime  # OpenLineage RunEvent field: the client serialises it (access.read_runs stamps the read time)
