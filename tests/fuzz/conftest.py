"""Hypothesis settings for the fuzz tests.

``CI=true`` selects the ``ci`` profile: derandomized (the same examples every run, so a
red build is reproducible) and a moderate number of examples to stay within minutes.
Locally the ``dev`` profile explores new random examples each run;
``HYPOTHESIS_PROFILE=deep`` runs many more.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

# html_safety (what "no script reaches a reader" means) lives with the corpus.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "corpus"))

_COMMON = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("ci", _COMMON, max_examples=300, derandomize=True, print_blob=True)
settings.register_profile("dev", _COMMON, max_examples=150)
settings.register_profile("deep", _COMMON, max_examples=5_000)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI", "").lower() in ("1", "true") else "dev")
)
