"""The windowed headline figures (`core.figures`): stable for one ledger, never negative, one rule everywhere."""

from __future__ import annotations

from core.figures import WINDOWS, FigureRow, figures_dict, window_bounds, window_figures
from kube.ledger import Ledger
from kube.ledger_rows import Batch, PodRow

T = 1_800_000_000.0  # a quiet moment: the rows below were created 2 to 3 hours before it


def row(uid: str, created: float, outcome: str, start: float | None, saving: float | None = None) -> PodRow:
    """A ledger row of a pod in namespace shop, as the writer stores it (the saving floored beside it)."""
    return PodRow("c", uid, "shop", uid, "Deployment/web", created, outcome, outcome, outcome, None, None, 0, start,
                  None, None if saving is None else max(0.0, saving), saving)


ROWS = [
    row("h1", T - 3 * 3600, "hit", 3.0, 20.0),
    row("h2", T - 2.5 * 3600, "hit", 4.5, 18.0),
    row("h3", T - 2.2 * 3600, "hit", 30.0, -7.5),  # paid 7.5 s more pulling than the same images take on misses
    row("h4", T - 2.1 * 3600, "hit", 3.2, None),  # its images were never seen pulled
    row("m1", T - 2.9 * 3600, "miss", 40.0),
    row("m2", T - 2.4 * 3600, "miss", 14.5),
    row("f1", T - 2.0 * 3600, "fail", None),
    row("o1", T - 2.6 * 3600, "off", 12.0),
    row("old", T - 40 * 86400, "miss", 99.0),  # outside every window
]


def ledger_of(tmp_path) -> Ledger:
    ledger = Ledger(tmp_path / "history.sqlite3")
    assert ledger.store("c", Batch(pods=list(ROWS)), T)
    return ledger


def test_the_same_ledger_gives_the_same_figures_however_now_moves_in_a_quiet_window(tmp_path):
    ledger = ledger_of(tmp_path)
    for window in ("24 h", "7 d", "30 d"):
        shown = []
        for now in (T, T + 1, T + 59, T + 3600, T + 4 * 3600 + 17):  # reloads over four quiet hours
            figures = window_figures(ledger.window_rows("c", *window_bounds(window, now)), window, now, True)
            shown.append({name: value for name, value in figures_dict(figures).items() if name not in ("start", "end")})
        assert all(one == shown[0] for one in shown), window
        assert (figures.hits, figures.misses, figures.fails, figures.off) == (4, 2, 1, 1)
        assert (figures.hit_start.median, figures.hit_start.count) == (3.85, 4)
        assert (figures.miss_start.median, figures.miss_start.p90, figures.miss_start.count) == (27.25, 37.45, 2)
        assert (figures.saved_seconds, figures.saved_pods, figures.paid_more, figures.unknown_saving) == (38.0, 3, 1, 1)
        assert figures.hit_rate == 4 / 7
    quiet = window_figures(ledger.window_rows("c", *window_bounds("1 h", T)), "1 h", T, True)
    assert quiet.pods == 0 and quiet.hit_rate is None and quiet.hit_start.median is None


def test_the_window_bounds_move_only_when_a_bucket_starts():
    for window, span in WINDOWS.items():
        start, end = window_bounds(window, T + 1)
        assert end - start == span and start <= T + 1 - span + (end - T - 1) and end > T + 1
        assert window_bounds(window, end - 0.001) == (start, end)


def test_no_figure_is_negative_and_a_hit_that_paid_more_saved_nothing(tmp_path):
    rows = [FigureRow(T - 60, "hit", 9.0, -4.0), FigureRow(T - 50, "hit", 2.0, -0.5)]
    figures = window_figures(rows, "1 h", T, False)
    assert (figures.saved_seconds, figures.saved_pods, figures.paid_more) == (0.0, 2, 2)
    ledger = ledger_of(tmp_path)
    stored = {r[1]: r for r in ledger.pods("c")}
    assert stored["h3"][14] == 0.0 and stored["h3"][15] == -7.5  # shown 0, the reason kept
