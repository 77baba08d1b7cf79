"""The order xdist's workers take tests in (tests/ordering.py): longest work first, groups kept whole."""

from __future__ import annotations

from tests.ordering import lanes, longest_first, plain_id, read_durations, write_durations


def test_the_longest_unit_goes_first_and_a_groups_tests_stay_together_in_their_order():
    items = ["a1", "b", "a2", "c", "d"]
    units = {0: "a", 1: "b", 2: "a", 3: "c", 4: "d"}
    seconds = {0: 2.0, 1: 3.0, 2: 2.0, 3: 10.0, 4: 0.5}
    assert longest_first(items, units, seconds) == ["c", "a1", "a2", "b", "d"]  # a: 4 s in all, more than b's 3


def test_equal_units_keep_the_order_they_were_collected_in():
    items = ["x", "y", "z"]
    assert longest_first(items, {0: "x", 1: "y", 2: "z"}, {0: 1.0, 1: 1.0, 2: 1.0}) == items


def test_lanes_take_the_costliest_first_each_into_the_lightest_lane():
    costs = {"a": 5.0, "b": 4.0, "c": 3.0, "d": 3.0, "e": 1.0}
    assert lanes(costs, 2) == {"a": 0, "b": 1, "c": 1, "d": 0, "e": 1}  # lanes of 8 s and 8 s
    assert lanes(costs, 1) == dict.fromkeys(costs, 0)
    assert set(lanes(costs, 9).values()) == {0, 1, 2, 3, 4}  # more lanes than keys: one key each
    assert lanes({}, 3) == {}


def test_a_grouped_test_id_loses_the_group_xdist_gave_it():
    assert plain_id("tests/e2e/test_a.py::test_b[x-1]@tests.e2e.test_a") == "tests/e2e/test_a.py::test_b[x-1]"
    assert plain_id("tests/unit/test_a.py::test_b@scale") == "tests/unit/test_a.py::test_b"
    assert plain_id("tests/unit/test_a.py::test_b[a@b]") == "tests/unit/test_a.py::test_b[a@b]"  # an @ in a parameter
    # a browser lane's group (tests/conftest.py): stored under the test's own id, as collection looks it up
    assert plain_id("tests/e2e/test_a.py::test_b[1024]@browser-lane-1") == "tests/e2e/test_a.py::test_b[1024]"


def test_durations_round_trip_and_a_missing_or_broken_file_reads_as_none(tmp_path):
    path = tmp_path / "durations.json"
    assert read_durations(path) == {}
    write_durations({"tests/b.py::t": 1.234, "tests/a.py::t": 0.001}, path)
    assert read_durations(path) == {"tests/a.py::t": 0.0, "tests/b.py::t": 1.23}
    assert list(read_durations(path)) == ["tests/a.py::t", "tests/b.py::t"]  # sorted, so a diff shows what changed
    path.write_text("{not json")
    assert read_durations(path) == {}
