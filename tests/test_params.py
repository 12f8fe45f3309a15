"""`--param` values are checked against the strategy's search space and defaults."""

from __future__ import annotations

import pytest

from bench.errors import BenchError
from bench.params import check_params, parse_params
from strategies.spsa import Spsa
from strategies.toy_search import ToySearch


def test_values_parse_as_json_or_stay_text():
    assert parse_params(["lr=1e-3", "n=3", "flag=true", "arch=tcn"]) == {
        "lr": 0.001, "n": 3, "flag": True, "arch": "tcn"}


def test_fitting_values_pass_and_ints_widen_to_floats():
    assert check_params([ToySearch], {"shrink": 1, "rounds": 2}) == {"shrink": 1.0, "rounds": 2}
    assert isinstance(check_params([ToySearch], {"shrink": 1})["shrink"], float)


@pytest.mark.parametrize("params, needle", [
    ({"lr": "abc"}, "--param lr=abc: lr of spsa takes a float, e.g. --param lr=0.001"),
    ({"lr": True}, "--param lr=true: lr of spsa takes a float"),
    ({"lr": float("nan")}, "--param lr=NaN: lr of spsa takes a float"),
    ({"perturbations": 1.5}, "perturbations of spsa takes an int, e.g. --param perturbations=2"),
])
def test_a_value_of_the_wrong_type_names_the_parameter_type_and_an_example(params, needle):
    with pytest.raises(BenchError) as info:
        check_params([Spsa], params)
    assert needle in str(info.value) and "\n" not in str(info.value)
