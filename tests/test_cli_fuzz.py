"""Random argument lists never produce a traceback: exit 0, 1 or 2 and one-line errors."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

WORDS = ["run", "list", "show", "train", "arm2", "osc", "pd", "reach", "--seed", "--seeds", "--dt", "--db",
         "--set", "targets=2", "reach.targets=1", "kp=-1", "dt=0", "0", "-1", "1e-3", "nan", "inf", "x.y=z",
         "=", "--", "-v", "-q", "--fresh", "osc.kv=none", "duration=0.001", "1,2", "r.db"]
ARG = st.one_of(st.sampled_from(WORDS), st.text(max_size=12))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(ARG, max_size=7))
def test_random_arguments_never_give_a_traceback(cli, argv):
    code, out, err = cli(*argv)
    assert code in (0, 1, 2), (argv, code, err)
    assert "Traceback" not in err and "Traceback" not in out
    if code == 2:
        assert len(err.strip().splitlines()) == 1, (argv, err)
