"""The OpenMP wait policy the package sets before loading its kernel (see irsl_stats/_kernel.py)."""

import json
import os
import subprocess
import sys

import pytest

PROBE = ("import json, os, irsl_stats as irsl; "
         "print(json.dumps([irsl.build_info()['omp_wait_policy'], os.environ.get('OMP_WAIT_POLICY')]))")
VARS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")


def _probe(extra: dict, cwd) -> list:
    env = {k: v for k, v in os.environ.items() if k not in VARS}
    env.update(extra)
    # run outside the source tree: from the repository root "-c" would import the uncompiled
    # sources (the working directory comes first on sys.path) instead of the installed package
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True,
                         cwd=cwd)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_passive_wait_by_default(tmp_path):
    assert _probe({}, tmp_path) == ["OMP_WAIT_POLICY=PASSIVE", "PASSIVE"]


@pytest.mark.parametrize("var, value", [("OMP_WAIT_POLICY", "ACTIVE"), ("GOMP_SPINCOUNT", "1000"),
                                        ("KMP_BLOCKTIME", "5")])
def test_the_users_policy_is_kept(var, value, tmp_path):
    policy, omp = _probe({var: value}, tmp_path)
    assert policy == f"{var}={value}"
    assert omp == (value if var == "OMP_WAIT_POLICY" else None)
