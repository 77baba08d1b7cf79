"""A plotly figure drawn once and shown on many reruns, its form as sent to the browser made once."""

from __future__ import annotations

import orjson
import plotly.graph_objects as go
import plotly.io as pio


class FrozenFigure(go.Figure):
    """A figure that, once `freeze()`d, hands out the dict and JSON it had then.

    `st.plotly_chart` takes a figure's `to_dict()` (a deep copy, its template included) and `plotly.io.to_json` of
    that (a walk of every value in Python) on every rerun: ~5 ms a chart, for a figure kept across many reruns and
    store versions. A frozen figure must not be changed (kept figures are shared).
    """

    _sent: SentSpec | None = None  # set by freeze(); BaseFigure lets names starting with "_" be set

    def freeze(self) -> FrozenFigure:
        """From now on, `to_dict()` is the dict of the figure as it is now, and its JSON is made once."""
        if self._sent is None:
            spec = super().to_dict()
            self._sent = SentSpec(spec, pio.to_json(spec, validate=False))
        return self

    def to_dict(self) -> dict:
        """The figure as a dict: once frozen, the same dict each time (callers must not change it)."""
        return self._sent if self._sent is not None else super().to_dict()

    def __reduce__(self) -> tuple:
        """Pickled and deep-copied as plotly does it, from a dict of its own (the copy is not frozen)."""
        props = super().to_dict()
        props["_grid_str"], props["_grid_ref"] = self._grid_str, self._grid_ref
        return (self.__class__, (props,))


class SentSpec(dict):
    """A figure's dict with `text`, the JSON `plotly.io.to_json` made of it.

    plotly's orjson encoder takes an object's `to_plotly_json()` before it walks it; an `orjson.Fragment` is written
    as it is, so the JSON sent is the very text made at freezing (its escapes included). Without orjson, plotly
    encodes the dict itself, to the same text.
    """

    def __init__(self, spec: dict, text: str) -> None:
        super().__init__(spec)
        self.text = text

    def to_plotly_json(self) -> orjson.Fragment:
        """The JSON made once, for plotly's orjson encoder."""
        return orjson.Fragment(self.text)
