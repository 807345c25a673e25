"""Fixtures and settings of the adversarial tests (tests/security).

Hypothesis profiles for the fuzz tests (test_fuzz_*.py, test_schemathesis.py):

* ``ci`` (the default): derandomized, so CI runs the same examples every time and a failure reproduces;
  no deadline, because the machine is shared and noisy; no example database, so no ``.hypothesis``
  folder appears in the checkout; few enough examples that the whole fuzz set stays well under a minute.
* ``deep`` (``HYPOTHESIS_PROFILE=deep``): a long, randomized local run to look for new failures. Anything
  it finds becomes an ``@example`` in the test, so the ``ci`` profile replays it from then on.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

from tests.security.fuzzing import PROFILE

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    database=None,
    max_examples=60,
    print_blob=True,
    # Parsing a generated PDF or DOCX is slower than Hypothesis expects of one example; that is not a bug.
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "deep",
    parent=settings.get_profile("ci"),
    derandomize=False,
    max_examples=3000,
)
settings.load_profile(PROFILE)

# The frontends' fixtures, reused rather than copied.
from tests.frontends.graphql.conftest import api, api_with, sqlite_api, ws_url  # noqa: E402, F401
from tests.frontends.telegram.conftest import echo_bot  # noqa: E402, F401
from tests.frontends.widget.conftest import serve, served  # noqa: E402, F401
