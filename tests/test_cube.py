"""The monthly cube against the raw lines."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salesanalysis.data.cube import KEYS, build_cube, build_customer_cube


def test_cube_totals_match_raw_lines(sample_tx):
    cube = build_cube(sample_tx)
    assert cube["revenue"].sum() == pytest.approx(sample_tx["revenue"].sum(), rel=1e-12)
    assert cube["quantity"].sum() == pytest.approx(sample_tx["quantity"].sum())
    assert not cube.duplicated(KEYS).any()
    by_month = sample_tx.groupby("month")["revenue"].sum()
    assert np.allclose(cube.groupby("month")["revenue"].sum().to_numpy(), by_month.to_numpy())
    # distinct customers of one cell and month, recomputed from the lines
    row = cube.iloc[len(cube) // 2]
    mask = np.logical_and.reduce([sample_tx[k] == row[k] for k in KEYS])
    assert row["customers"] == sample_tx.loc[mask, "customer_id"].nunique()
    assert row["orders"] == sample_tx.loc[mask, "order_id"].nunique()


def test_customer_cube_rolls_up_to_cube(sample_tx):
    cube = build_cube(sample_tx)
    cc = build_customer_cube(sample_tx)
    rolled = cc.groupby(KEYS)[["revenue", "orders"]].sum().reset_index()
    merged = cube.merge(rolled, on=KEYS, suffixes=("", "_cc"))
    assert len(merged) == len(cube)
    assert np.allclose(merged["revenue"], merged["revenue_cc"])
    assert (merged["orders"] == merged["orders_cc"]).all()  # an order belongs to one customer
    n = cc.groupby(KEYS)["customer_id"].nunique().reset_index(drop=True)
    assert (cube["customers"].to_numpy() == n.to_numpy()).all()


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(1, 3),
            st.sampled_from(["A", "B"]),
            st.sampled_from(["c1", "c2", "c3"]),
            st.floats(-50, 500, allow_nan=False),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_cube_preserves_totals_with_returns(lines):
    tx = pd.DataFrame(
        {
            "month": pd.to_datetime([f"2025-{m:02d}-01" for m, *_ in lines]),
            "region": [r for _, r, *_ in lines],
            "product_line": "P",
            "customer_type": "SMB",
            "rep_id": "R1",
            "customer_id": [c for *_, c, _ in lines],
            "order_id": [f"O{i}" for i in range(len(lines))],
            "revenue": [v for *_, v in lines],
            "quantity": 1.0,
        }
    )
    cube = build_cube(tx)
    assert cube["revenue"].sum() == pytest.approx(tx["revenue"].sum(), abs=1e-6)
    assert cube["orders"].sum() == len(tx)


def test_order_counts_count_whole_orders(sample_tx):
    from salesanalysis.data.cube import build_order_counts

    orders = build_order_counts(sample_tx)
    per_month = sample_tx.groupby("month")["order_id"].nunique()
    assert (orders.groupby("month")["orders"].sum().to_numpy() == per_month.to_numpy()).all()
    # the cube counts an order once per product line, so it over-counts whole orders
    assert build_cube(sample_tx)["orders"].sum() > orders["orders"].sum()
