"""IVA splitting and proration: integer centavos that always add up."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from backend.billing.tax import prorate, split_iva


@given(st.integers(min_value=0, max_value=10_000_000))
def test_split_adds_up_and_is_never_negative(amount: int) -> None:
    subtotal, tax = split_iva(amount)
    assert subtotal + tax == amount
    assert subtotal >= 0 and tax >= 0
    # 16% of the subtotal, within the rounding of one centavo.
    assert abs(tax - subtotal * 0.16) <= 1


def test_known_values() -> None:
    assert split_iva(49900) == (43017, 6883)
    assert split_iva(116) == (100, 16)
    assert split_iva(0) == (0, 0)


@given(
    st.integers(min_value=0, max_value=10_000_000),
    st.integers(min_value=1, max_value=400),
    st.data(),
)
def test_prorate_stays_within_the_amount(amount: int, whole: int, data: st.DataObject) -> None:
    used = data.draw(st.integers(min_value=0, max_value=whole))
    share = prorate(amount, used, whole)
    assert 0 <= share <= amount
    assert prorate(amount, whole, whole) == amount
    # The two parts of a split period never charge more than the whole.
    assert share + prorate(amount, whole - used, whole) in (amount, amount + 1, amount - 1)
