"""The OpenMP wait policy the package sets before loading its kernel (see irsl_stats/_kernel.py)."""

import json
import os
import subprocess
import sys

import pytest

PROBE = ("import json, os, irsl_stats as irsl; "
         "print(json.dumps([irsl.build_info()['omp_wait_policy'], os.environ.get('OMP_WAIT_POLICY')]))")
VARS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")


def _probe(extra: dict) -> list:
    env = {k: v for k, v in os.environ.items() if k not in VARS}
    env.update(extra)
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_passive_wait_by_default():
    assert _probe({}) == ["OMP_WAIT_POLICY=PASSIVE", "PASSIVE"]


@pytest.mark.parametrize("var, value", [("OMP_WAIT_POLICY", "ACTIVE"), ("GOMP_SPINCOUNT", "1000"),
                                        ("KMP_BLOCKTIME", "5")])
def test_the_users_policy_is_kept(var, value):
    policy, omp = _probe({var: value})
    assert policy == f"{var}={value}"
    assert omp == (value if var == "OMP_WAIT_POLICY" else None)
