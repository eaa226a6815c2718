from __future__ import annotations

from datetime import datetime

import pytest

from backend.types import utcnow


@pytest.fixture
def clock() -> datetime:
    return utcnow()
