"""Business days for the ARCO deadline and the signed export links."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from backend.errors import NotFound
from backend.privacy.export import read_export_token, sign_export
from backend.privacy.service import add_business_days


def test_twenty_business_days_skip_weekends_and_official_rest_days() -> None:
    # Mon 7 Sep 2026 + 20 business days, skipping 16 Sep (Independence Day): 6 Oct.
    assert add_business_days(date(2026, 9, 7), 20) == date(2026, 10, 6)
    # Friday → Monday.
    assert add_business_days(date(2026, 11, 6), 1) == date(2026, 11, 9)
    # 16 Nov 2026 is the third Monday of November (Revolution Day): skipped.
    assert add_business_days(date(2026, 11, 13), 1) == date(2026, 11, 17)


def test_export_token_round_trip_expiry_and_forgery() -> None:
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    token = sign_export("secret", 1, 2, 3, now + timedelta(hours=24))
    assert read_export_token("secret", token, now) == (1, 2, 3)
    with pytest.raises(NotFound):
        read_export_token("secret", token, now + timedelta(hours=25))
    with pytest.raises(NotFound):
        read_export_token("other-secret", token, now)
    with pytest.raises(NotFound):
        read_export_token("secret", "garbage", now)
