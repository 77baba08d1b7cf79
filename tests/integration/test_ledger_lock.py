"""The ledger against a real sim while another process locks its file: every pod is stored (issue 18, item 4)."""

from __future__ import annotations

import pytest
from kubernetes import client

from kube.connect import connect
from kube.live import start_live
from tests.integration.conftest import poll
from tests.unit.test_kube_ledger import locked_by_another_process

pytestmark = pytest.mark.integration


def eci_pod_body(name: str) -> dict:
    """An ECI pod."""
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"alibabacloud.com/eci": "true"}},
            "spec": {"containers": [{"name": "main", "image": "busybox:1.36"}]}}


def test_pods_created_and_deleted_while_the_file_is_locked_are_all_in_the_ledger(sim_server, api_client, namespace,
                                                                                  tmp_path):
    path = tmp_path / "history.sqlite3"
    connection = connect(kubeconfig=str(sim_server.kubeconfig), context="sim")
    live = start_live(connection, {"IMC_HISTORY_PATH": str(path), "IMC_CLUSTER": "locked"})
    core = client.CoreV1Api(api_client)
    names = [f"p{i:02d}" for i in range(20)]
    try:
        writer = live.writer
        poll(lambda: all(live.store.snapshot().synced.values()) and writer.behind == 0 and path.exists(), 30,
             "the first lists stored")
        with locked_by_another_process(path):
            for name in names:
                core.create_namespaced_pod(namespace, eci_pod_body(name))
            poll(lambda: {row.name for row, _ in list(writer.pending.first.values())} >= set(names), 30,
                 "the writer to queue the 20 new pods")
            poll(lambda: "busy" in (live.ledger.problem or ""), 30, "the writer to find the file busy")
            for name in names[:5]:
                core.delete_namespaced_pod(name, namespace, grace_period_seconds=0)
            poll(lambda: len(writer.pending.gone) >= 5, 30, "the writer to queue the 5 deletions")
            assert writer.behind >= 25
        poll(lambda: writer.behind == 0, 90, "the queue stored once the file is free (retried with backoff)")
        rows = {row[3]: row for row in live.ledger.pods("locked") if row[2] == namespace}
        assert sorted(rows) == names
        assert {name for name, row in rows.items() if row[-1] is not None} == set(names[:5])
        assert live.ledger.problem is None
    finally:
        live.stop()
        connection.close()
