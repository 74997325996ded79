"""Fixtures of the chaos tests."""

from __future__ import annotations

import pytest
from chaos_clock import Clocks, frozen


@pytest.fixture
def clocks(monkeypatch: pytest.MonkeyPatch) -> Clocks:
    """Publication decisions (Render, Index, the scheduler) follow ``clocks.calendar``;
    Notify's and Deliver's leases and the tokens follow ``clocks.lease_now()``."""
    from pressline.stages import index, render, scheduler, validate
    from pressline.subscribers import runtime

    state = Clocks()
    for module in (index, render, scheduler, validate):
        monkeypatch.setattr(module, "datetime", frozen(lambda: state.calendar))
    monkeypatch.setattr(runtime, "datetime", frozen(state.lease_now))
    return state
