from dataclasses import dataclass
from typing import Literal

import pytest

from bench.errors import SettingError
from bench.settings import build, parse_pairs, route, setting, settings_hash


@dataclass
class S:
    dt: float = setting(1e-3, "step", unit="s", gt=0)
    n: int = setting(8, ge=1)
    flag: bool = False
    mode: Literal["a", "b"] = "a"
    gains: tuple[float, ...] = (1.0, 2.0)
    opt: float | None = None


@dataclass
class T:
    n: int = 3
    name_: str = "x"


def test_build_coerces_strings_to_declared_types():
    s = build(S, {"dt": "0.01", "n": "64", "flag": "true", "mode": "b", "gains": "1,2.5", "opt": "none"})
    assert (s.dt, s.n, s.flag, s.mode, s.gains, s.opt) == (0.01, 64, True, "b", (1.0, 2.5), None)
    assert build(S, {"n": 5.0}).n == 5


@pytest.mark.parametrize("values, fragment", [
    ({"dt": "0"}, "must be > 0 s"),
    ({"dt": "nan"}, "finite"),
    ({"dt": "inf"}, "finite"),
    ({"dt": "abc"}, "expects a number"),
    ({"n": "2.5"}, "expects an integer"),
    ({"n": "0"}, ">= 1"),
    ({"flag": "maybe"}, "true or false"),
    ({"mode": "c"}, "must be one of"),
    ({"dtt": "1"}, "did you mean 'dt'"),
])
def test_bad_values_are_refused_with_the_reason(values, fragment):
    with pytest.raises(SettingError, match=fragment):
        build(S, values, owner="arm")


def test_unknown_key_lists_valid_keys():
    with pytest.raises(SettingError) as e:
        build(S, {"zzz": 1}, owner="arm")
    assert "valid keys for arm: dt, flag, gains, mode, n, opt" in str(e.value)


def test_route_qualified_unqualified_and_ambiguous():
    comps = {"arm2": ("plant", S), "reach": ("task", T)}
    assert route({"dt": "1", "reach.n": "2", "plant.n": "3"}, comps) == {"arm2": {"dt": "1", "n": "3"},
                                                                         "reach": {"n": "2"}}
    with pytest.raises(SettingError, match="ambiguous: declared by arm2 and reach"):
        route({"n": "2"}, comps)
    with pytest.raises(SettingError, match=r"unknown component 'reahc'.*did you mean 'reach'"):
        route({"reahc.n": "2"}, comps)
    with pytest.raises(SettingError, match=r"unknown setting 'reach\.dt'"):
        route({"reach.dt": "2"}, comps)


def test_parse_pairs_and_hash():
    assert parse_pairs(["a=1", "b.c=x=y"]) == {"a": "1", "b.c": "x=y"}
    with pytest.raises(SettingError, match="key=value"):
        parse_pairs(["novalue"])
    assert settings_hash({"a": 1, "b": 2}) == settings_hash({"b": 2, "a": 1}) != settings_hash({"a": 2, "b": 2})
