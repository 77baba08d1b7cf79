"""Dashboard pages in AppTest (no browser): a real ClusterStore filled directly, no server."""

from __future__ import annotations

import html
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest
from streamlit.testing.v1 import AppTest

from core.caches import MIN_SIZE_GIB
from core.coverage import held_images, suggest_cache
from core.timeutil import format_time
from dashboard import chart_slot, shown_cluster, suggest
from dashboard.shown_cluster import ShownCluster
from kube.access import AccessChecker
from kube.store import KINDS, ClusterStore
from tests.unit.test_dashboard_views import NOW, demo_store
from tests.unit.test_engine_manifests import aliased

TIMEOUT = 30


def recent() -> str:
    """40 minutes ago, as a creationTimestamp: within every window of the Overview's figures, with the demo store's
    building cache, made 30 minutes after its pods, in the past."""
    return format_time(datetime.now(UTC) - timedelta(minutes=40))


def page_script(module: str, **query: str):
    """An AppTest script that renders one dashboard page, opened by a link with these query parameters."""
    source = (
        "import importlib\n"
        f"importlib.import_module('dashboard.pages.{module}').render()\n"
    )
    at = AppTest.from_string(source, default_timeout=TIMEOUT)
    at.query_params.update(query)
    return at


@pytest.fixture
def shown(monkeypatch):
    """A filled store injected as the cluster every page shows (cleared afterwards)."""
    monkeypatch.setenv("IMC_READ_ONLY", "1")
    shown = ShownCluster(store=demo_store(recent()), context="test", server="https://test", source="test", is_demo=True,
                    access=AccessChecker(None))
    shown_cluster.inject(shown)
    yield shown
    shown_cluster.inject(None)
    shown_cluster.open_cluster.clear()


def texts(at: AppTest) -> str:
    """Every piece of markdown, caption, alert and title text on the page."""
    parts = [e.value for kind in ("markdown", "caption", "title", "subheader", "info", "warning", "error",
                                  "success", "text") for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


def no_exception(at: AppTest) -> None:
    """Neither Streamlit's exception box nor our friendly error appeared."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


@pytest.mark.parametrize("module", ["overview", "pods", "caches", "radar", "preview", "create_cache", "patch_deployment"])
def test_every_page_renders_without_errors(shown, module):
    at = page_script(module).run()
    no_exception(at)


def test_overview_metrics_and_demo_badge(shown):
    at = page_script("overview").run()
    labels = {m.label: m.value for m in at.metric}
    assert labels["ECI pods"] == "7"
    assert labels["Cache hit rate"] == "43%"
    assert labels["Ready caches"] == "2"
    assert {m.label: m.delta for m in at.metric}["Ready caches"] == "of 3"
    assert "Demo cluster" in texts(at)
    assert "Latest ECI pods" in texts(at)
    links = {link.proto.label: link.proto.query_string for link in at.get("page_link")}
    assert links["shop/web-1"] == "pod=shop%2Fweb-1"


def test_without_history_the_window_figures_count_the_pods_alive_now_and_say_so(shown):
    at = page_script("overview").run()
    no_exception(at)
    tiles = {m.label: m for m in at.metric}
    assert "**Last 24 h**: pods created in the last 24 h that exist now (history is off)" in texts(at)
    assert (tiles["Pods decided"].value, tiles["Pods decided"].delta) == ("7", "3 missed")
    assert (tiles["Cache hit rate"].value, tiles["Cache hit rate"].delta) == ("43%", "of 7 pods")
    assert tiles["Hit start p50"].delta == "of 0 hits"  # none of them started


def test_suggest_a_cache_links_to_the_create_form_filled_with_its_images(shown):
    at = page_script("overview").run()
    link = next(link.proto for link in at.get("page_link") if link.proto.label == "Suggest a cache")
    query = parse_qs(link.query_string)
    snapshot = shown.store.snapshot()
    suggestion = suggest_cache(suggest.missed_needs(snapshot.pods, held_images(snapshot.caches.values(), NOW)))
    assert query["images"] == [",".join(suggestion.images)]
    assert suggestion.pods_covered == 3 and "docker.io/acme/worker:3" in suggestion.images  # the 3 pods that missed
    form = page_script("create_cache", **{key: values[0] for key, values in query.items()}).run()
    no_exception(form)
    assert form.text_area(key="cc-images").value.splitlines() == list(suggestion.images)
    assert form.text_input(key="cc-name").value == query["name"][0] and query["name"][0].startswith("suggested-")


def test_pods_deep_link_explains_a_hit(shown):
    at = page_script("pods", pod="shop/web-1").run()
    no_exception(at)
    text = texts(at)
    assert "shop/web-1" in text
    assert "web-cache" in text
    assert "ECI hit cache `imc-web-cache`" in text


def test_pods_filters_and_unknown_deep_link(shown):
    at = page_script("pods", pod="shop/nope").run()
    assert "There is no pod `shop/nope`" in texts(at)
    at.text_input(key="q").input("batch").run()
    assert "2 of 7 ECI pods" in texts(at)


def test_pods_decision_link_filters_and_a_failed_pin_says_what_eci_saw(shown):
    at = page_script("pods", decision="fail", pod="shop/pinned-1").run()
    no_exception(at)
    assert "1 of 7 ECI pods" in texts(at)
    assert "No ImageCache has ID imc-gone, so pod creation fails" in texts(at)


def test_pods_miss_is_explained_by_the_caches_of_its_creation_and_links_to_a_prefilled_create_form(shown):
    at = page_script("pods", pod="jobs/batch-1").run()
    # `building` (acme/batch:1.0) was created after the pod: it is no closest cache, and not usable now
    assert "No cache holds any of the pod's images: the pod pulls its images" in texts(at)
    assert "closest" not in texts(at)
    links = {link.proto.label: link.proto.query_string for link in at.get("page_link")}
    # the size ECI gives the cache it auto-creates for the pod: its 30 GiB temporary storage
    assert links["Create a cache with the 2 missing images"] == "images=acme%2Fbatch%3A1.0%2Cbusybox%3A1.36&size=30"


def test_create_cache_form_is_prefilled_from_the_link(shown):
    at = page_script("create_cache", images="nginx:1.25,busybox:1.36", size="30").run()
    no_exception(at)
    assert at.text_area(key="cc-images").value == "nginx:1.25\nbusybox:1.36"
    assert at.number_input(key="cc-size").value == 30


def test_caches_deep_link_shows_the_cache(shown):
    at = page_script("caches", cache="web-cache").run()
    no_exception(at)
    assert "imc-web-cache" in texts(at)
    assert "Pods that hit it** (2)" in texts(at)


def test_preview_shows_the_decision_and_findings(shown):
    at = page_script("preview").run()
    no_exception(at)
    assert "Predicted: Hit" in texts(at)
    assert "web-cache" in texts(at)
    assert "2. Job nightly-report" in texts(at)
    assert "pull-always" in texts(at)
    assert any("moves k8s.aliyun.com/imc-perfect-match into the pod template" in i.value for i in at.info)


@pytest.mark.parametrize("text, message", [
    ("kind: [unclosed", "does not parse"),
    ("a: &a [1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
     "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
     "g: [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nkind: Pod\n", "alias bomb"),
    ("x" * (10 * 2**20), "MiB"),
    (aliased(1, 200), "pasted text: document 1: expands to more than 3 MiB once its aliases are resolved"),
], ids=["unclosed", "alias-bomb", "10-mib", "1-mib-string-aliased-200-times"])
def test_preview_refuses_bad_input_with_a_message(shown, text, message):
    at = page_script("preview").run()
    at.text_area(key="preview-text").input(text).run()
    assert not at.exception
    assert any(message in e.value for e in at.error), [e.value for e in at.error]


def test_preview_unknown_kind_and_invalid_annotation(shown):
    at = page_script("preview").run()
    at.text_area(key="preview-text").input(
        "kind: Service\nmetadata: {name: s}\n---\n"
        "kind: Pod\nmetadata:\n  name: p\n  labels: {alibabacloud.com/eci: 'true'}\n"
        "  annotations: {k8s.aliyun.com/imc-match-count-request: abc}\n"
        "spec: {containers: [{name: c, image: nginx:1.25}]}\n"
    ).run()
    assert not at.exception
    assert any("Service" in w.value for w in at.warning)
    assert "invalid-count" in texts(at)


def test_write_pages_are_read_only_but_still_preview(shown):
    at = page_script("create_cache").run()
    assert any("read-only" in i.value for i in at.info)
    assert at.button(key="cc-create").disabled
    at.text_input(key="cc-name").input("web").run()
    at.text_area(key="cc-images").input("nginx:1.25").run()
    assert "name: web" in at.code[0].value
    at = page_script("patch_deployment").run()
    assert any("read-only" in i.value for i in at.info)
    assert at.button(key="pd-apply").disabled


def test_create_form_validates_next_to_the_field(shown):
    at = page_script("create_cache").run()
    at.text_input(key="cc-name").input("Bad_Name").run()
    at.text_area(key="cc-images").input("nginx:1.25\nnot a valid image!").run()
    text = texts(at)
    assert "must be lowercase letters" in text
    assert "spec.images" not in text


@pytest.mark.parametrize("module", ["overview", "pods", "caches", "patch_deployment"])
def test_an_empty_cluster_says_so_in_words(monkeypatch, module):
    monkeypatch.setenv("IMC_READ_ONLY", "1")
    store = ClusterStore()
    for kind in KINDS:
        store.replace(kind, [], "1")
    shown_cluster.inject(ShownCluster(store=store, context="test", server="", source="test", access=AccessChecker(None)))
    try:
        at = page_script(module).run()
    finally:
        shown_cluster.inject(None)
    no_exception(at)
    assert "no " in texts(at).lower() or "No " in texts(at)


def test_a_broken_kubeconfig_names_the_path_and_offers_the_demo(monkeypatch, tmp_path):
    broken = tmp_path / "kubeconfig"
    broken.write_text("apiVersion: v1\nkind: Config\ncontexts: []\nclusters: []\nusers: []\n")
    monkeypatch.setenv("KUBECONFIG", str(broken))
    monkeypatch.setenv("IMC_CONTEXT", "prod")
    shown_cluster.inject(None)
    shown_cluster.open_cluster.clear()
    try:
        at = page_script("overview").run()
    finally:
        shown_cluster.open_cluster.clear()
    assert not at.exception
    assert "Cannot reach the cluster" in texts(at)
    shown = html.unescape(at.error[0].value)  # as the browser shows it: the path is escaped markdown
    assert str(broken) in shown
    assert "prod" in shown
    assert at.button[0].label == "Open the demo cluster"


class Kept(logging.Handler):
    """Keeps the messages a logger writes."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_a_link_opens_the_patch_page_on_its_mode_without_streamlits_session_state_warning(shown):
    deployment = sorted(shown.store.snapshot().deployments)[0]
    policies = logging.getLogger("streamlit.elements.lib.policies")  # where Streamlit writes the warning
    kept = Kept()
    policies.addHandler(kept)
    try:
        at = page_script("patch_deployment", deployment=deployment, mode="automatic").run()
    finally:
        policies.removeHandler(kept)
    no_exception(at)
    mode = next(group for group in at.button_group if group.key.endswith("-mode"))
    assert mode.value == "automatic"
    assert not [message for message in kept.messages if "Session State API" in message], kept.messages


def test_patch_page_shows_the_diff_and_what_new_pods_hit(shown):
    at = page_script("patch_deployment").run()
    group = at.button_group[0]
    group.set_value("match count").run()
    no_exception(at)
    assert "+    k8s.aliyun.com/imc-match-count-request: '1'" in at.code[0].value
    assert "Now: Hit" in texts(at) and "After: Hit" in texts(at)
    assert any("rolls the Deployment" in w.value for w in at.warning)
    at.button_group[0].set_value("pin").run()
    assert at.selectbox(key="pd-shop/web-pin").value in ("imc-web-cache", "imc-api-cache")
    assert "k8s.aliyun.com/eci-imc-id" in at.code[0].value


def test_caches_page_filters_by_text(shown):
    at = page_script("caches").run()
    at.text_input(key="caches-search").input("acme/api").run()
    no_exception(at)
    assert "1 of 3 caches · 2 Ready" in texts(at)


@pytest.mark.parametrize("text", [
    "kind: Deployment\nmetadata: x\n",
    "kind: Deployment\nmetadata: {name: a, annotations: [1]}\n"
    "spec: {template: {metadata: {annotations: x}, spec: {containers: x}}}\n",
    "kind: Deployment\nmetadata: {name: a}\nspec: {template: {metadata: {labels: x}, "
    "spec: {containers: [{name: c, image: nginx}], initContainers: 5}}}\n",
    "kind: Pod\nmetadata: {name: 5}\nspec: {containers: [{name: c, image: 5, imagePullPolicy: [x]}]}\n",
])
def test_preview_survives_malformed_objects(shown, text):
    at = page_script("preview").run()
    at.text_area(key="preview-text").input(text).run()
    for toggle in at.toggle:
        toggle.set_value(True)
    at.run()
    no_exception(at)


def test_pods_page_can_open_filtered_to_disagreements(shown):
    at = page_script("pods", disagree="1").run()
    no_exception(at)
    assert at.toggle(key="pods-disagree").value is True
    assert "No pod matches these filters." in texts(at)


ECI_POD = "kind: Pod\nmetadata:\n  name: p\n  labels: {alibabacloud.com/eci: 'true'}\n%sspec: {containers: [{name: c, image: nginx}]}\n"


@pytest.mark.parametrize("text, words", [
    ('{"kind": "Pod", "spec": ' + "[" * 10_000 + "]" * 10_000 + "}", ["pasted text: document 1: nested"]),
    (ECI_POD % ("  x: " + "9" * 4400 + "\n"), ["pasted text: document 1", "out of range"]),
    (ECI_POD % "  creationTimestamp: 2024-13-45\n", ["2024-13-45"]),
    (ECI_POD % "  annotations: {k8s.aliyun.com/eci-extra-ephemeral-storage: 1e400}\n", ["out of range"]),
    (ECI_POD % "  annotations: [a, b]\n", ["metadata.annotations is ['a', 'b'] (list)"]),
    ("kind: Pod\nmetadata: hello\nspec: {containers: [{name: c, image: nginx}]}\n", ["metadata is 'hello' (str)"]),
    ("kind: ImageCache\nmetadata: {name: c}\nspec: {retentionDays: 99999999999}\nstatus: {imageCacheId: [a, b]}\n",
     ["Document 1", "ImageCache"]),
    ("apiVersion: v1\nkind: List\nitems: 5\n", ["pasted text: document 1: a List whose items are 5, not a list"]),
], ids=["json-10000-deep", "yaml-int-4400-digits", "timestamp", "storage-1e400", "annotations-list",
        "metadata-hello", "imagecache", "list-items-5"])
def test_preview_names_the_document_of_a_hostile_input(shown, text, words):
    at = page_script("preview").run()
    at.text_area(key="preview-text").input(text).run()
    assert not at.exception, [e.value for e in at.exception]
    shown_text = texts(at) + "\n".join(str(e.value) for e in at.get("text"))
    for word in words:
        assert word in shown_text, shown_text
    assert not any(internal in shown_text for internal in ("RecursionError", "ValueError", "TypeError", "Traceback",
                                                           "Something went wrong"))


@pytest.mark.parametrize("module, kind, obj, problem", [
    ("caches", "imagecaches",
     {"metadata": {"name": "poisoned"}, "spec": {"images": ["nginx"]}, "status": {"imageCacheId": ["a", "b"]}},
     "status.imageCacheId is ['a', 'b'] (list)"),
    ("pods", "pods", {"kind": "Pod", "metadata": {"name": "odd", "namespace": "shop", "labels": ["x"]},
                      "spec": {"containers": [{"name": "c", "image": "nginx"}]}}, "metadata.labels is ['x'] (list)"),
])
def test_pages_name_the_malformed_object(shown, module, kind, obj, problem):
    shown.store.apply(kind, "ADDED", obj)
    at = page_script(module).run()
    no_exception(at)
    [table] = [frame.value for frame in at.dataframe if "Problem" in frame.value.columns]
    [row] = table.to_dict("records")
    assert row["Object"] in ("poisoned", "shop/odd") and row["Problem"].startswith(problem)


def test_jargon_widgets_say_what_they_mean(shown):
    at = page_script("preview").run()
    storage = [widget for widget in at.text_input if widget.label == "Extra ephemeral storage"]
    assert storage and "30 GiB of temporary storage" in storage[0].help


def test_a_refused_pod_says_it_will_not_start_and_why(shown):
    at = page_script("pods", pod="shop/pinned-1").run()
    no_exception(at)
    warnings = [w.value for w in at.warning]
    assert any(w.startswith("Will not start.") and "imc-gone" in w for w in warnings), warnings
    assert "Still starting" not in texts(at)


def test_every_overview_tile_has_help_and_links_to_what_it_counts(shown):
    at = page_script("overview").run()
    tiles = {m.label: m for m in at.metric}
    assert all(m.help for m in tiles.values()), [label for label, m in tiles.items() if not m.help]
    assert tiles["Failed caches"].value == "0" and tiles["Failed pods"].value == "1"
    queries = [link.proto.query_string for link in at.get("page_link") if link.proto.label == "List them"]
    assert "phase=Ready" in queries and "phase=Failed" in queries


def test_each_uncached_image_without_a_suggestion_says_why_and_is_offered(shown):
    at = page_script("overview").run()
    no_exception(at)
    said = next((m.value for m in at.markdown if m.value.startswith("No cache is suggested for")), "")
    # the batch Job's pods missed, and the suggested cache serves them through busybox:1.36
    assert "`docker.io/acme/batch:1.0`: 2 pods missed; the suggested cache serves them through their other images" \
        in said
    links = {link.proto.label: link.proto.query_string for link in at.get("page_link")}
    assert links["Create a cache with it"] == "images=docker.io%2Facme%2Fbatch%3A1.0"


def test_a_pull_time_saved_that_no_hit_tells_is_the_no_value_sign_not_a_word_cut_at_1024_px():
    from core.figures import Spread, WindowFigures
    from dashboard.pages.overview import saved_value
    from dashboard.text import NO_VALUE

    none = Spread(None, None, 0)
    unknown = WindowFigures("24 h", 0.0, 86400.0, True, 3, 1, 0, 0, none, none, 0.0, 0, 0, 3)
    assert saved_value(unknown) == NO_VALUE
    assert saved_value(replace(unknown, saved_seconds=38.0, saved_pods=3)) == "38 s"


def test_the_create_forms_number_fields_default_to_the_seeded_values_not_zero(shown):
    """A widget reset to its own default (a rerun cut short) shows the CRD's minimum size and no retention, never 0."""
    at = page_script("create_cache").run()
    no_exception(at)
    size, retention = at.number_input(key="cc-size"), at.number_input(key="cc-retention")
    assert (size.value, size.proto.default) == (MIN_SIZE_GIB, MIN_SIZE_GIB)
    assert retention.value is None and not retention.proto.HasField("default")


def test_a_sessions_first_overview_sends_its_numbers_then_its_charts(shown):
    at = page_script("overview").run()
    no_exception(at)
    assert {m.label for m in at.metric} >= {"ECI pods", "Cache hit rate"}
    assert at.get("plotly_chart") == []
    drawing = [c.value for c in at.caption].count(chart_slot.DRAWING)
    assert drawing >= 3
    at.run()  # the session's next run (the live part reruns every few seconds)
    no_exception(at)
    assert len(at.get("plotly_chart")) == drawing
    assert chart_slot.DRAWING not in [c.value for c in at.caption]
