"""What the Overview sends to the browser is the same when made once and kept: a frozen figure's spec, a start
table handed over as the Arrow table Streamlit would make of it."""

from __future__ import annotations

import copy
import json
import pickle

import pandas as pd
import plotly.express as px
import plotly.io as pio
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import charts
from dashboard.frozen_figure import FrozenFigure
from dashboard.text import plot
from dashboard.views import short_image


def sent_twice() -> None:
    """Each Overview figure of the demo (and of a cluster with starts), shown as built and then frozen; each start
    table shown as a DataFrame and then as the kept Arrow table."""
    import pyarrow as pa
    import streamlit as st

    from dashboard import charts, start_views, views
    from dashboard.frames import Frames
    from dashboard.text import inert_frame
    from tests.unit.test_dashboard_kept import starts_store
    from tests.unit.test_dashboard_views import NOW, demo_store

    demo = Frames(demo_store().snapshot(), now=NOW)
    started = Frames(starts_store(200).snapshot(), now=NOW)
    rates = views.hit_rate_over_time(demo.outcomes_over_time)
    minute = NOW.replace(second=0)
    built = {
        "over time": lambda: charts.outcomes_over_time(demo.outcomes_over_time),
        "hit rate": lambda: charts.hit_rate_over_time(rates),
        "by namespace": lambda: charts.decisions_by_namespace(demo.by_namespace),
        "cache timeline": lambda: charts.cache_timeline(demo.timeline, minute),
        "uncached": lambda: charts.uncached_images(demo.uncached),
        "start time": lambda: start_views.start_chart(start_views.start_distribution(started.starts)),
    }
    for name, build in built.items():
        st.plotly_chart(build(), key=f"built {name}")
        st.plotly_chart(build().freeze(), key=f"frozen {name}")
    for name, table in {"workloads": start_views.by_workload(started.starts),
                        "caches": start_views.by_cache(started.starts, started.snapshot.caches)}.items():
        st.dataframe(inert_frame(table), hide_index=True, key=f"frame {name}")
        st.dataframe(pa.Table.from_pandas(inert_frame(table)), hide_index=True, key=f"arrow {name}")


def test_a_frozen_figure_sends_the_spec_the_figure_sends():
    at = AppTest.from_function(sent_twice, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    specs = {chart.key: chart.proto.spec for chart in at.get("plotly_chart")}
    names = [key.removeprefix("built ") for key in specs if key.startswith("built ")]
    assert len(names) == 6 and len(specs) == 12
    for name in names:
        assert specs[f"frozen {name}"] == specs[f"built {name}"], name
        assert json.loads(specs[f"built {name}"])["data"], name


def test_a_kept_arrow_table_sends_the_bytes_of_its_frame():
    at = AppTest.from_function(sent_twice, default_timeout=60).run()
    tables = {key: table.proto for key, table in zip(
        ("frame workloads", "arrow workloads", "frame caches", "arrow caches"), at.dataframe, strict=True)}
    for name in ("workloads", "caches"):
        frame, arrow = tables[f"frame {name}"], tables[f"arrow {name}"]
        assert arrow.arrow_data.data == frame.arrow_data.data, name
        assert arrow.columns == frame.columns, name
    assert len(at.dataframe[0].value) > 1


def test_a_frozen_figure_is_the_figure_it_was():
    frame = pd.DataFrame({"Image": ["nginx:1.25", "acme/api:<b>2.0</b>"], "Pods": [7, 3]})
    figure = charts.uncached_images(frame)
    as_built = pio.to_json(figure, validate=False)
    frozen = figure.freeze()
    assert frozen is figure and isinstance(frozen, FrozenFigure)
    assert pio.to_json(frozen, validate=False) == as_built
    assert frozen.to_dict() is frozen.to_dict()  # made once
    assert frozen.data[0].x.tolist() == [7, 3]
    plotly_copy = json.loads(pio.to_json(copy.deepcopy(charts.uncached_images(frame)), validate=False))
    for copied in (copy.deepcopy(frozen), pickle.loads(pickle.dumps(frozen))):
        assert json.loads(pio.to_json(copied, validate=False)) == plotly_copy  # as plotly copies a figure
        assert copied.to_dict() is not copied.to_dict()  # a copy is not frozen


def px_uncached_images(frame: pd.DataFrame):
    """The figure as plotly express drew it before."""
    shown = frame.assign(Label=frame["Image"].map(lambda image: plot(short_image(image))),
                         Image=frame["Image"].map(plot))
    figure = px.bar(shown, y="Label", x="Pods", orientation="h", hover_data={"Image": True, "Label": False},
                    color_discrete_sequence=[charts.OUTCOME_COLORS["miss"]])
    figure.update_yaxes(autorange="reversed", title=None)
    figure.update_layout(xaxis_title="ECI pods using the image")
    figure.update_xaxes(**charts.count_axis(frame["Pods"].max()))  # whole pods (issue 21)
    return charts._styled(figure, height=max(180, 70 + 30 * len(shown)))


@pytest.mark.parametrize("count", [1, 4, 15])
def test_uncached_images_drawn_with_graph_objects_is_the_json_plotly_express_drew(count):
    images = [f"registry.example.com/team-{n}/app<{n}>:v{n}" for n in range(count - 1)] + ["nginx"]
    frame = pd.DataFrame({"Image": images, "Pods": [5000 - 7 * n for n in range(count)]})
    assert pio.to_json(charts.uncached_images(frame), validate=False) == pio.to_json(
        px_uncached_images(frame), validate=False)
