"""The cluster's layout on a fresh clone (no .cluster/ yet): asking for a component's log makes its
folder, so the first `make cluster-up` can log the object store's build (it failed there once)."""

from govlake.cluster.layout import Layout


def test_a_log_on_a_fresh_layout_can_be_opened(tmp_path):
    layout = Layout(tmp_path / "fresh" / ".cluster")
    with open(layout.log("build-seaweedfs"), "ab") as f:
        f.write(b"building\n")
    assert (tmp_path / "fresh" / ".cluster" / "logs" / "build-seaweedfs.log").read_bytes() == b"building\n"
