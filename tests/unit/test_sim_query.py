"""Query parameters read as kube-apiserver reads them (issue 23 item 1)."""

from __future__ import annotations

import pytest

from sim.apiserver.api_server import delete_options, verb_of, write_options
from sim.apiserver.query import first_values, flag
from sim.apiserver.resources import PODS, Target


@pytest.mark.parametrize("value", ["True", "TRUE", "true", "yes", "2", "1", ""])
def test_anything_but_zero_or_false_is_true(value):
    assert flag({"watch": value}, "watch") is True


@pytest.mark.parametrize("value", ["0", "false", "False", "FALSE"])
def test_zero_and_false_in_any_case_are_false(value):
    assert flag({"watch": value}, "watch") is False


def test_an_absent_parameter_is_false():
    assert flag({}, "watch") is False


def test_the_first_of_repeated_values_is_read():
    assert first_values([("watch", "false"), ("watch", "true"), ("limit", "5")]) == {"watch": "false", "limit": "5"}


def test_every_boolean_parameter_of_a_request_reads_the_same_way():
    collection = Target(PODS, "default", "", None)
    assert verb_of("GET", collection, {"watch": "True"}) == "watch"
    assert verb_of("GET", collection, {"watch": "False"}) == "list"
    assert write_options({"force": "True"}).force is True
    assert delete_options({"orphanDependents": "True"}, None, False).propagation == "Orphan"
    assert delete_options({"orphanDependents": "FALSE"}, None, False).propagation == "Background"
