# govlake: two commands do everything on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SCALE ?= 5000

.PHONY: run test test-slow bench venv lock clean check-java check-browser cluster-up cluster-down test-cluster

$(STAMP): constraints.txt pyproject.toml jvm/pom.xml
	@$(MAKE) --no-print-directory check-java
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@$(BIN)/python -m pip install -q uv==0.13.8
	$(BIN)/uv pip install -q -p $(BIN)/python -r constraints.txt
	$(BIN)/uv pip install -q -p $(BIN)/python --no-deps -e .
	$(BIN)/python -c "from govlake import jars; print('Spark jars:', jars.cache_dir()); jars.ensure()"
	@touch $(STAMP)

venv: $(STAMP)

check-java:
	@command -v java >/dev/null || { echo "ERROR: java not found. Spark needs Java 17: apt-get install -y openjdk-17-jre-headless"; exit 1; }
	@command -v mvn >/dev/null || { echo "ERROR: mvn not found. The pinned Spark jars (jvm/pom.xml) are fetched by Maven: apt-get install -y maven"; exit 1; }

# the portal's test drives a real browser (tests/portal/test_browser.py)
check-browser:
	@test -x /usr/bin/chromium || { echo "ERROR: /usr/bin/chromium not found. The portal test drives Debian's chromium: apt-get install -y chromium"; exit 1; }

run: $(STAMP)
	$(BIN)/govlake run --scale $(SCALE)

test: $(STAMP) check-browser
	$(BIN)/python -m pytest -q --durations=15 tests

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow --durations=15 tests

bench: $(STAMP)
	$(BIN)/python -m govlake.bench

# Re-resolve constraints.txt from requirements.in (needs the registry).
lock: $(STAMP)
	$(BIN)/uv pip compile requirements.in -p $(BIN)/python -o constraints.txt

# The scale-out deployment as separate processes on this machine (docs/scale-out.md): SeaweedFS (S3),
# PostgreSQL, Spark master + 2 workers, Airflow 3 (LocalExecutor); state in .cluster/.
cluster-up: $(STAMP)
	@command -v go >/dev/null || { echo "ERROR: go not found: the object store (SeaweedFS) is built from its Go module"; exit 1; }
	@test -x /usr/lib/postgresql/15/bin/pg_ctl || { echo "ERROR: PostgreSQL 15 not found: apt-get install -y postgresql"; exit 1; }
	$(BIN)/uv pip install -q -p $(BIN)/python -r deploy/cluster/requirements.txt
	$(BIN)/python -m govlake.cluster up

cluster-down:
	$(BIN)/python -m govlake.cluster down

# needs `make cluster-up`; plain `make test` does not collect tests/cluster (its conftest.py)
test-cluster: $(STAMP)
	GOVLAKE_CLUSTER_TEST=1 $(BIN)/python -m pytest -q --durations=10 tests/cluster

clean:
	rm -rf lakehouse airflow_home spark-warehouse metastore_db dbt/target dbt/logs
