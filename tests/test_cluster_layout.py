"""The cluster's layout on a fresh clone (no .cluster/ yet): asking for a component's log makes its
folder, so the first `make cluster-up` can log the object store's build (it failed there once)."""

from govlake.cluster.layout import Layout


def test_a_log_on_a_fresh_layout_can_be_opened(tmp_path):
    layout = Layout(tmp_path / "fresh" / ".cluster")
    with open(layout.log("build-seaweedfs"), "ab") as f:
        f.write(b"building\n")
    assert (tmp_path / "fresh" / ".cluster" / "logs" / "build-seaweedfs.log").read_bytes() == b"building\n"


def test_postgres_moves_out_of_a_private_folder_when_run_as_root(tmp_path, monkeypatch):
    """The server runs as the postgres account: under a folder others cannot pass through (a
    clone in a `mktemp -d` folder) its data goes to the account's own /var/lib/postgresql."""
    import os

    import pytest

    if os.geteuid() != 0:
        pytest.skip("only as root is the server run as another account")
    monkeypatch.delenv("GOVLAKE_PG_DIR", raising=False)
    private, open_ = tmp_path / "private", tmp_path / "open"
    private.mkdir(mode=0o700)
    open_.mkdir(mode=0o755)
    os.chmod(tmp_path, 0o755)
    moved = Layout(private / "project" / ".cluster")
    assert moved.pg_dir.parent.as_posix() == "/var/lib/postgresql" and moved.pg_dir.name.startswith("govlake-")
    assert moved.pg_dir == Layout(private / "project" / ".cluster").pg_dir  # the same folder every time
    assert moved.pg_data == moved.pg_dir / "data" and moved.pg_log == moved.pg_dir / "server.log"
    if all(a.stat().st_mode & 0o001 for a in tmp_path.parents):
        assert Layout(open_ / ".cluster").pg_dir == open_ / ".cluster" / "postgres"
    monkeypatch.setenv("GOVLAKE_PG_DIR", str(tmp_path / "pg"))
    assert moved.pg_dir == tmp_path / "pg"
