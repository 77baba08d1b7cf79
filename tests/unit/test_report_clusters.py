"""`imc report` over several contexts without a server: options, the contexts of a kubeconfig, the cluster column."""

from __future__ import annotations

import argparse
import csv
import io

import orjson
import pytest
import yaml

import cli
from core import render
from core.figures import window_figures
from kube import report
from kube.connect import ConnectError, kubeconfig_contexts
from tests.unit.test_kube_report import snapshot

FIGURES = window_figures([], "24 h", 0.0, from_history=False)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_report_arguments(parser)
    return parser.parse_args(argv)


def clustered(*clusters: str) -> list[dict]:
    """The snapshot's results once per cluster, each naming it, as `imc report` joins several contexts."""
    return [{"cluster": name, **item} for name in clusters for item in report.results(snapshot())]


def test_context_is_repeatable_and_one_context_or_none_reads_one_cluster():
    assert cli.report_contexts(parse()) == [None]
    assert cli.report_contexts(parse("--context", "a")) == ["a"]
    assert cli.report_contexts(parse("--context", "a", "--context", "b", "--context", "a")) == ["a", "b"]


def test_all_contexts_and_context_together_are_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exited:
        parse("--all-contexts", "--context", "a")
    assert exited.value.code == 2 and "not allowed with" in capsys.readouterr().err


def test_the_exit_codes_of_several_contexts_are_in_the_help():
    parser = argparse.ArgumentParser()
    cli.add_report_arguments(parser)
    text = " ".join(parser.format_help().split())
    assert "--all-contexts" in text and "1 some contexts could not be read (the others were reported)" in text


def write(path, contexts: list[tuple[str, str]]) -> str:
    path.write_text(yaml.safe_dump({
        "clusters": [{"name": c, "cluster": {"server": f"https://{c}.example:6443"}} for c in {c for _, c in contexts}],
        "contexts": [{"name": name, "context": {"cluster": cluster, "user": "u"}} for name, cluster in contexts],
        "users": [{"name": "u", "user": {"token": "t"}}], "current-context": contexts[0][0] if contexts else ""}))
    return str(path)


def test_all_contexts_reads_each_cluster_once_in_the_kubeconfigs_order(tmp_path):
    path = write(tmp_path / "config", [("sim", "sim"), ("sim-viewer", "sim"), ("prod", "prod"), ("dev", "dev")])
    assert kubeconfig_contexts(path) == ["sim", "prod", "dev"]
    assert cli.report_contexts(parse("--kubeconfig", path, "--all-contexts")) == ["sim", "prod", "dev"]


def test_a_kubeconfig_without_contexts_is_an_error_naming_it(tmp_path):
    path = write(tmp_path / "config", [])
    with pytest.raises(ConnectError, match="has no context"):
        kubeconfig_contexts(path)


def test_contexts_that_cannot_be_read_are_one_line_each_and_none_read_exits_2(tmp_path, capsys):
    path = write(tmp_path / "config", [("a", "a")])
    assert cli.run_report(parse("--kubeconfig", path, "--context", "nope", "--context", "nor")) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        f"imc report: kubeconfig {path} has no context 'nope'; it has: a",
        f"imc report: kubeconfig {path} has no context 'nor'; it has: a"]


def test_one_context_renders_as_before_without_a_cluster_column():
    items = report.results(snapshot())
    assert render.report_table(items, FIGURES).splitlines()[0].split()[0] == "NAMESPACE"
    assert next(csv.reader(io.StringIO(render.report_csv(items))))[0] == "namespace"
    assert list(orjson.loads(render.report_json(items, FIGURES))) == ["results", "figures"]


def test_the_table_of_several_contexts_names_each_pods_cluster_then_each_clusters_figures_or_error():
    parts = [render.ClusterPart("hangzhou", FIGURES), render.ClusterPart("beijing-long-name", FIGURES),
             render.ClusterPart("gone", error="cannot reach https://gone:6443 (context 'gone'): refused")]
    lines = render.report_table(clustered("hangzhou", "beijing-long-name"), None, parts).splitlines()
    assert lines[0].split()[:3] == ["CLUSTER", "NAMESPACE", "POD"]
    assert lines[1].split()[:3] == ["hangzhou", "default", "api"]
    assert lines[4].split()[:3] == ["beijing-long-name", "default", "api"]
    assert lines[1].index("default") == lines[4].index("default")  # one column, as wide as its longest name
    assert "6 ECI pods" in lines[8]
    assert lines[9].startswith("hangzhou: Last 24 h (")
    assert any(line.startswith("beijing-long-name: Last 24 h") for line in lines)
    assert lines[-1] == "gone: not reported: cannot reach https://gone:6443 (context 'gone'): refused"


def test_the_csv_of_several_contexts_has_the_cluster_first():
    parts = [render.ClusterPart("a", FIGURES), render.ClusterPart("b", FIGURES)]
    rows = list(csv.DictReader(io.StringIO(render.report_csv(clustered("a", "b"), None, parts))))
    assert list(rows[0])[:3] == ["cluster", "namespace", "pod"]
    assert [(row["cluster"], row["pod"]) for row in rows] == [
        ("a", "api"), ("a", "pinned"), ("a", "web"), ("b", "api"), ("b", "pinned"), ("b", "web")]


def test_the_json_of_several_contexts_names_each_results_cluster_and_each_clusters_figures_or_error():
    parts = [render.ClusterPart("a", FIGURES), render.ClusterPart("gone", error="cannot reach it")]
    document = orjson.loads(render.report_json(clustered("a"), None, parts))
    assert list(document) == ["results", "clusters"]
    assert {item["cluster"] for item in document["results"]} == {"a"}
    assert document["clusters"][0]["cluster"] == "a" and document["clusters"][0]["figures"]["pods"] == 0
    assert document["clusters"][1] == {"cluster": "gone", "error": "cannot reach it"}
