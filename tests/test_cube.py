"""The monthly cube against the raw lines."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salesanalysis.data.cube import (
    KEYS,
    MIX_COLUMNS,
    build_cube,
    build_customer_cube,
    build_product_cube,
    product_mix,
)


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


def test_product_mix_shares_add_up_per_line(sample_tx):
    products = build_product_cube(sample_tx)
    assert build_product_cube(sample_tx.drop(columns="product")) is None
    months = sorted(products["month"].unique())[-12:]
    mix = product_mix(products, months)
    assert list(mix.columns) == MIX_COLUMNS
    assert np.allclose(mix.groupby("product_line")["share"].sum(), 1.0)
    win = sample_tx[sample_tx["month"].isin(months)]
    one = mix.iloc[0]
    lines = win[(win["product"] == one["product"]) & (win["product_line"] == one["product_line"])]
    assert one["revenue"] == pytest.approx(lines["revenue"].sum())
    assert one["price"] == pytest.approx(lines["revenue"].sum() / lines["quantity"].sum())
    line_rev = win.loc[win["product_line"] == one["product_line"], "revenue"].sum()
    assert one["share"] == pytest.approx(lines["revenue"].sum() / line_rev)


def test_product_mix_names_blank_products():
    products = pd.DataFrame(
        {
            "month": pd.Timestamp("2025-01-01"),
            "product_line": ["A", "A", "B"],
            "product": ["a1", "", "b1"],
            "revenue": [30.0, 10.0, -5.0],
            "quantity": [3.0, 1.0, -1.0],
        }
    )
    mix = product_mix(products, [pd.Timestamp("2025-01-01")], unspecified="未指定")
    assert list(mix["product"]) == ["a1", "未指定"]  # B has no positive revenue: no share
    assert list(mix["share"]) == [0.75, 0.25]
