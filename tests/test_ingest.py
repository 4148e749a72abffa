"""The Arrow fast path gives exactly what the pandas readers give: cubes, notes and errors."""

from __future__ import annotations

import datetime as dt
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salesanalysis.data.ingest import Ingested, load_cubes, pandas_cubes
from salesanalysis.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
TODAY = dt.date(2027, 1, 1)
FRAMES = ("cube", "customers", "orders", "reps", "market")

sys.path.insert(0, str(ROOT / "benchmarks"))
import make_large_data  # noqa: E402


def assert_same(fast: Ingested, ref: Ingested) -> None:
    for name in FRAMES:
        pd.testing.assert_frame_equal(
            getattr(fast, name), getattr(ref, name), check_exact=False, rtol=1e-12, atol=1e-6
        )
    assert (fast.products is None) == (ref.products is None)
    if ref.products is not None:  # the product cube beside the cube
        pd.testing.assert_frame_equal(
            fast.products, ref.products, check_exact=False, rtol=1e-12, atol=1e-6
        )
    assert fast.notes == ref.notes
    assert fast.n_lines == ref.n_lines
    assert fast.first_month == ref.first_month
    assert fast.last_date == ref.last_date
    pd.testing.assert_series_equal(fast.lines_per_month, ref.lines_per_month, check_names=False)
    assert {k: Path(v) for k, v in fast.sources.items()} == {
        k: Path(v) for k, v in ref.sources.items()
    }


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20,000 generated lines with returns and exact duplicates (CSV and Parquet folders)."""
    out = tmp_path_factory.mktemp("gen")
    make_large_data.generate(20_000, out, echo=None)
    return out


def _folder(
    tmp_path: Path,
    tx: pd.DataFrame | str,
    src: Path,
    name: str = "transactions.csv",
    encoding: str = "utf-8",
) -> Path:
    d = tmp_path / "data"
    d.mkdir(exist_ok=True)
    for f in ("reps.csv", "market.csv"):
        shutil.copy(src / f, d / f)
    if isinstance(tx, str):
        (d / name).write_bytes(tx.encode(encoding))
    elif name.endswith(".parquet"):
        tx.to_parquet(d / name, index=False)
    else:
        tx.to_csv(d / name, index=False, encoding=encoding)
    return d


def _same_outcome(d: Path, plan: Path | None = None) -> Ingested | None:
    """load_cubes (auto) and the pandas path end alike: equal results or the same error."""
    try:
        ref = pandas_cubes(d, plan, today=TODAY)
    except InputError as e:
        with pytest.raises(InputError) as got:
            load_cubes(d, plan, today=TODAY)
        assert str(got.value) == str(e)
        assert got.value.problems == e.problems
        return None
    fast = load_cubes(d, plan, today=TODAY)
    assert_same(fast, ref)
    return fast


def test_sample_data_takes_the_fast_path_and_matches() -> None:
    fast = load_cubes(SAMPLE, SAMPLE / "plan.yaml", today=TODAY, engine="arrow")
    ref = pandas_cubes(SAMPLE, SAMPLE / "plan.yaml", today=TODAY)
    assert fast.engine == "arrow" and ref.engine == "pandas"
    assert_same(fast, ref)
    assert fast.plan.to_dict() == ref.plan.to_dict()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_generated_data_with_returns_and_duplicates(generated: Path, fmt: str) -> None:
    d = generated / fmt
    fast = load_cubes(d, d / "plan.yaml", today=TODAY, engine="arrow")
    ref = pandas_cubes(d, d / "plan.yaml", today=TODAY)
    assert_same(fast, ref)
    assert any("identical to an earlier row" in n and "kept" in n for n in fast.notes)
    assert any("return lines" in n for n in fast.notes)
    assert fast.n_lines == 20_000  # identical rows are kept (one row per item)


@pytest.mark.parametrize(
    "mapping", ["duplicates: drop_exact\n", "transactions: {duplicates: drop_exact}\n"]
)
def test_drop_exact_drops_identical_rows_on_both_paths(
    generated: Path, tmp_path: Path, mapping: str
) -> None:
    d = tmp_path / "d"
    shutil.copytree(generated / "csv", d)
    (d / "mapping.yaml").write_text(mapping, encoding="utf-8")
    fast = load_cubes(d, d / "plan.yaml", today=TODAY, engine="arrow")
    assert_same(fast, pandas_cubes(d, d / "plan.yaml", today=TODAY))
    dropped = [n for n in fast.notes if "dropped as export duplicates" in n]
    assert len(dropped) == 1 and "'duplicates: drop_exact' in mapping.yaml" in dropped[0]
    assert 19_900 < fast.n_lines < 20_000


def test_identical_rows_count_every_row_on_both_paths(tmp_path: Path) -> None:
    """One row per item: identical rows are real sales; revenue = the sum of every raw row."""
    tx = _sample_lines(300)
    tx = pd.concat([tx, tx.iloc[[10, 20, 20]]], ignore_index=True)
    d = _folder(tmp_path, tx, SAMPLE)
    fast = load_cubes(d, today=TODAY, engine="arrow")
    assert_same(fast, pandas_cubes(d, today=TODAY))
    assert fast.cube["revenue"].sum() == pytest.approx(pd.to_numeric(tx["revenue"]).sum())
    assert fast.n_lines == 303
    assert (
        "transactions.csv: 3 row(s) identical to an earlier row (same date, order, customer, "
        "product line, rep, quantity and price) are kept as separate sales (one row per "
        "item); first at lines [302, 303, 304]. If they are export duplicates, set 'duplicates: "
        "drop_exact' in mapping.yaml or add a line_id column." in fast.notes
    ), fast.notes


def test_line_id_repeats_are_dropped_by_the_pandas_readers(tmp_path: Path) -> None:
    tx = _sample_lines(300)
    tx["line_id"] = range(1, len(tx) + 1)
    tx = pd.concat([tx, tx.iloc[[10]]], ignore_index=True)
    d = _folder(tmp_path, tx, SAMPLE)
    got = load_cubes(d, today=TODAY)
    assert got.engine == "pandas" and "line_id" in got.reason
    assert_same(got, pandas_cubes(d, today=TODAY))
    assert got.n_lines == 300
    assert got.cube["revenue"].sum() == pytest.approx(
        pd.to_numeric(tx["revenue"]).iloc[:300].sum()
    )
    assert (
        "transactions.csv: 1 row(s) repeat the line_id of an earlier row of the same order; they "
        "were dropped as export duplicates (the first row of each line counts); first at lines "
        "[302]." in got.notes
    ), got.notes


def test_auto_uses_arrow_and_prepare_writes_the_same_frames(
    generated: Path, tmp_path: Path
) -> None:
    from salesanalysis.data.context import prepare

    d = generated / "csv"
    manifest = prepare(d, d / "plan.yaml", tmp_path / "outputs", "2026-06", today=TODAY)
    ref = pandas_cubes(d, d / "plan.yaml", today=TODAY)
    for name in FRAMES:
        pd.testing.assert_frame_equal(
            pd.read_parquet(tmp_path / "outputs" / f"{name}.parquet"),
            getattr(ref, name),
            check_exact=False,
            rtol=1e-12,
        )
    assert manifest["rows"]["transactions"] == ref.n_lines
    assert manifest["notes"][: len(ref.notes)] == ref.notes
    last = manifest["notes"][-1]  # the sample reads in Chinese
    assert "2026-06" in last and "晚于报告期" in last, last


def _sample_lines(n: int = 400) -> pd.DataFrame:
    return pd.read_csv(SAMPLE / "transactions.csv", dtype=str, nrows=n, keep_default_na=False)


@pytest.mark.parametrize(
    "change",
    [
        "blank_key",
        "null_marker_key",
        "bad_number",
        "thousands",
        "bad_date",
        "future_date",
        "unknown_rep",
        "unknown_region",
        "discount_out_of_range",
        "no_quantity",
        "nan_text",
        "day_first_dates",
        "spaces_around_labels",
        "float_ids",
        "blank_line",
        "missing_column",
        "misspelt_column",
        "infinite",
        "time_of_day",
        "product_partly_empty",
        "currency",
        "thousands_ambiguous",
        "cp1252",
        "multiline_value_then_bad_number",
        "date_beyond_2262",
        "revenue_beyond_bound",
        "price_times_quantity_beyond_bound",
        "label_too_long",
        "product_name_long",
    ],
)
def test_same_outcome_as_pandas_on_odd_files(tmp_path: Path, change: str) -> None:
    tx = _sample_lines()
    text = None
    if change == "blank_key":
        tx.loc[5, "customer_id"] = ""
    elif change == "null_marker_key":
        tx.loc[7, "region"] = "NULL"
    elif change == "bad_number":
        tx.loc[3, "quantity"] = "two"
    elif change == "thousands":
        tx["revenue"] = tx["revenue"].map(lambda v: f"{float(v):,.2f}")
    elif change == "bad_date":
        tx.loc[9, "date"] = "2021-02-30"
    elif change == "future_date":
        tx.loc[9, "date"] = "2030-01-05"
    elif change == "unknown_rep":
        tx.loc[11, "rep_id"] = "R999"
    elif change == "unknown_region":
        tx.loc[11, "region"] = "火星"
    elif change == "discount_out_of_range":
        tx.loc[4, "discount"] = "1.5"
    elif change == "no_quantity":
        tx.loc[4, "quantity"] = ""
    elif change == "nan_text":
        tx.loc[4, "unit_price"] = "NaN"
    elif change == "day_first_dates":
        tx["date"] = pd.to_datetime(tx["date"]).dt.strftime("%d.%m.%Y")
    elif change == "spaces_around_labels":
        tx["region"] = " " + tx["region"] + "\u3000"
        tx["rep_id"] = tx["rep_id"] + " "
    elif change == "float_ids":
        tx["customer_id"] = tx["customer_id"].str[1:].astype(int).astype(str) + ".0"
    elif change == "blank_line":
        text = tx.to_csv(index=False).replace("\n", "\n\n", 1)
    elif change == "missing_column":
        tx = tx.drop(columns="rep_id")
    elif change == "misspelt_column":
        tx = tx.rename(columns={"discount": "discont"})
    elif change == "infinite":
        tx.loc[2, "revenue"] = "inf"
    elif change == "time_of_day":
        tx["date"] = tx["date"] + " 10:30:00"
    elif change == "product_partly_empty":
        tx["product"] = (tx["product_line"] + "-1").where(tx.index % 2 == 0, "")
    elif change == "currency":
        tx["unit_price"] = "¥" + tx["unit_price"]
    elif change == "thousands_ambiguous":  # 1,234 only: read as thousands, with a note
        tx = tx.drop(columns="discount")
        for c in ("unit_price", "revenue"):
            tx[c] = tx[c].map(lambda v: f"{round(float(v)):,}")
        assert tx["revenue"].str.fullmatch(r"\d{1,3},\d{3}").any()
    elif change == "cp1252":  # decodes as GB18030 without error: refused by both paths
        tx = tx.drop(columns="product")  # the sample's products have Chinese names
        tx["customer_id"] = tx["customer_id"] + " Müller"
        tx["region"] = "Est"
    elif change == "multiline_value_then_bad_number":
        tx.loc[2, "product"] = "Pump\nseries 2"
        tx.loc[9, "quantity"] = "two"
    elif change == "date_beyond_2262":
        tx.loc[9, "date"] = "2263-01-05"
    elif change == "revenue_beyond_bound":
        tx.loc[[3, 4], "revenue"] = "1e308"
    elif change == "price_times_quantity_beyond_bound":
        tx = tx.drop(columns="revenue")
        tx.loc[3, "quantity"], tx.loc[3, "unit_price"] = "1e8", "1e8"
    elif change == "label_too_long":
        tx.loc[6, "customer_type"] = "x" * 201
    elif change == "product_name_long":  # not a label of the cube: accepted
        tx.loc[6, "product"] = "p" * 300
    d = _folder(
        tmp_path,
        text if text is not None else tx,
        SAMPLE,
        encoding="cp1252" if change == "cp1252" else "utf-8",
    )
    got = _same_outcome(d)
    if change == "thousands_ambiguous":
        assert got is not None and got.engine == "pandas"
        assert any(
            "column revenue:" in n and "(comma = thousands separator)" in n for n in got.notes
        ), got.notes


def test_multiline_values_keep_file_lines_in_the_duplicates_note(tmp_path: Path) -> None:
    """Quoted values over several lines: the fast path still reads the file and names the
    duplicates by the lines of the file, as the pandas readers do."""
    tx = _sample_lines(300)
    tx.loc[3, "product"] = "Pump\nmodel X"
    tx.loc[7, "product"] = "Pump\r\nmodel\nY"
    tx = pd.concat([tx, tx.iloc[[10, 20]]])
    d = _folder(tmp_path, tx, SAMPLE)
    fast = load_cubes(d, today=TODAY, engine="arrow")
    assert_same(fast, pandas_cubes(d, today=TODAY))
    # header + 302 records + 3 line breaks inside values: the identical rows are on lines 305, 306
    assert any("first at lines [305, 306]" in n for n in fast.notes), fast.notes


def test_fast_path_handles_labels_it_must_normalise(tmp_path: Path) -> None:
    tx = _sample_lines()
    tx["region"] = " " + tx["region"]  # a leading space, as in "a, b" exports
    d = _folder(tmp_path, tx, SAMPLE)
    fast = load_cubes(d, today=TODAY, engine="arrow")
    assert_same(fast, pandas_cubes(d, today=TODAY))


@pytest.mark.parametrize(
    "name,encoding",
    [("transactions.csv", "gb18030"), ("transactions.csv", "utf-16"), ("transactions.xlsx", None)],
)
def test_formats_the_fast_path_leaves_to_pandas(
    tmp_path: Path, name: str, encoding: str | None
) -> None:
    tx = _sample_lines(200)
    d = tmp_path / "data"
    d.mkdir()
    for f in ("reps.csv", "market.csv"):
        shutil.copy(SAMPLE / f, d / f)
    if name.endswith(".xlsx"):
        tx.to_excel(d / name, index=False)
    else:
        tx.to_csv(d / name, index=False, encoding=encoding)
    with pytest.raises(ValueError, match="fast path declined"):
        load_cubes(d, today=TODAY, engine="arrow")
    got = load_cubes(d, today=TODAY)
    assert got.engine == "pandas" and got.reason
    assert_same(got, pandas_cubes(d, today=TODAY))


def test_decimal_comma_mapping_goes_to_pandas(tmp_path: Path) -> None:
    tx = _sample_lines(200)
    for c in ("unit_price", "revenue", "discount"):
        tx[c] = tx[c].str.replace(".", ",", regex=False)
    d = tmp_path / "data"
    d.mkdir()
    for f in ("reps.csv", "market.csv"):
        shutil.copy(SAMPLE / f, d / f)
    tx.to_csv(d / "transactions.csv", index=False, sep=";")
    (d / "mapping.yaml").write_text("transactions: {delimiter: ';', decimal: ','}\n")
    got = load_cubes(d, today=TODAY)
    assert got.engine == "pandas" and "decimal" in got.reason
    assert_same(got, pandas_cubes(d, today=TODAY))


def test_mapping_renames_and_parquet_with_integer_ids(tmp_path: Path) -> None:
    tx = _sample_lines(300)
    tx = tx.rename(columns={"date": "日期", "customer_id": "客户编号"})
    tx["客户编号"] = tx["客户编号"].str[1:].astype("int64")
    for c in ("quantity", "unit_price", "discount", "revenue"):
        tx[c] = tx[c].astype(float)
    tx["日期"] = pd.to_datetime(tx["日期"])
    d = _folder(tmp_path, tx, SAMPLE, name="transactions.parquet")
    (d / "mapping.yaml").write_text(
        "transactions:\n  columns: {日期: date, 客户编号: customer_id}\n", encoding="utf-8"
    )
    fast = load_cubes(d, today=TODAY, engine="arrow")
    assert_same(fast, pandas_cubes(d, today=TODAY))


def test_an_order_shared_by_two_customers_counts_once_per_cell(tmp_path: Path) -> None:
    tx = _sample_lines(300)
    tx.loc[1, "order_id"] = tx.loc[0, "order_id"]  # same order id, another customer
    same = ["region", "product_line", "product", "customer_type", "rep_id", "date"]
    tx.loc[1, same] = tx.loc[0, same].to_numpy()
    d = _folder(tmp_path, tx, SAMPLE)
    assert_same(load_cubes(d, today=TODAY, engine="arrow"), pandas_cubes(d, today=TODAY))


def test_engine_argument_is_checked() -> None:
    with pytest.raises(ValueError, match="engine"):
        load_cubes(SAMPLE, engine="spark")  # type: ignore[arg-type]


_REPS = pd.read_csv(SAMPLE / "reps.csv", dtype=str)


@st.composite
def _lines(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(5, 60))
    reps = _REPS[["rep_id", "region"]].head(6)
    pick = draw(st.lists(st.integers(0, len(reps) - 1), min_size=n, max_size=n))
    day = draw(st.lists(st.integers(0, 800), min_size=n, max_size=n))
    qty = draw(st.lists(st.integers(-3, 9), min_size=n, max_size=n))
    price = draw(st.lists(st.sampled_from([0.5, 10.0, 99.99, 1234.5]), min_size=n, max_size=n))
    cust = draw(st.lists(st.integers(0, 7), min_size=n, max_size=n))
    order = draw(st.lists(st.integers(0, 12), min_size=n, max_size=n))
    df = pd.DataFrame(
        {
            "date": [f"{pd.Timestamp('2023-01-01') + pd.Timedelta(days=x):%Y-%m-%d}" for x in day],
            "order_id": [f"O{o}" for o in order],
            "customer_id": [f"C{c}" for c in cust],
            "customer_type": ["SMB" if c % 2 else "Key Account" for c in cust],
            "region": reps["region"].to_numpy()[pick],
            "product_line": ["Pumps" if q % 2 else "Valves" for q in qty],
            "rep_id": reps["rep_id"].to_numpy()[pick],
            "quantity": qty,
            "unit_price": price,
        }
    )
    dups = draw(st.lists(st.integers(0, n - 1), max_size=5))
    if dups:
        df = pd.concat([df, df.iloc[dups]]).sort_values("date", kind="stable")
    return df.reset_index(drop=True)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tx=_lines())
def test_invariant_fast_equals_pandas_on_random_lines(tmp_path: Path, tx: pd.DataFrame) -> None:
    d = _folder(tmp_path, tx, SAMPLE)
    # reps and market with the labels of these lines only (other labels are an error)
    reps = pd.read_csv(d / "reps.csv", dtype=str, keep_default_na=False)
    reps[reps["region"].isin(set(tx["region"]))].to_csv(d / "reps.csv", index=False)
    m = pd.read_csv(d / "market.csv", dtype=str)
    m = m[m["region"].isin(set(tx["region"])) & m["product_line"].isin(set(tx["product_line"]))]
    m.to_csv(d / "market.csv", index=False)
    fast = load_cubes(d, today=TODAY, engine="arrow")
    assert_same(fast, pandas_cubes(d, today=TODAY))
    assert np.isclose(fast.cube["revenue"].sum(), fast.customers["revenue"].sum())
    assert fast.orders["orders"].sum() <= fast.cube["orders"].sum()


@pytest.mark.parametrize("case", ["missing_hire", "left_early", "yearly_market", "no_plan_file"])
def test_same_notes_for_rules_across_files(tmp_path: Path, case: str) -> None:
    d = _folder(tmp_path, _sample_lines(600), SAMPLE)
    reps = pd.read_csv(d / "reps.csv", dtype=str, keep_default_na=False)
    if case == "missing_hire":
        reps.loc[reps["rep_id"].isin(["R001", "R002"]), "hire_date"] = ""
    elif case == "left_early":
        reps.loc[reps["rep_id"] == "R006", "end_date"] = "2021-01-01"
    reps.to_csv(d / "reps.csv", index=False)
    if case == "yearly_market":
        m = pd.read_csv(d / "market.csv", dtype=str)
        m = m[~m["period"].str.startswith("2021")]
        extra = pd.DataFrame(
            {
                "period": "2021",
                "region": ["华北", "华东"],
                "product_line": "Pumps",
                "market_size": "1200000",
            }
        )
        pd.concat([m, extra]).to_csv(d / "market.csv", index=False)
    fast = _same_outcome(d)
    assert fast is not None and fast.engine == "arrow"


@pytest.mark.parametrize("case", ["market_region", "market_product_line", "plan_strategy"])
def test_label_mismatches_refused_alike_on_both_paths(tmp_path: Path, case: str) -> None:
    """Labels of market or plan that the transactions do not have: the same error (exit 2)
    from the fast path (which declines) and the pandas readers."""
    d = _folder(tmp_path, _sample_lines(), SAMPLE)
    plan = None
    market = (d / "market.csv").read_text(encoding="utf-8")
    if case == "market_region":
        (d / "market.csv").write_text(market.replace(",华东,", ",华东区,"), encoding="utf-8")
        expected = "'华东区' (closest: '华东')"
    elif case == "market_product_line":
        extra = market.splitlines()[1].split(",")
        extra[2] = "Pumpz"
        (d / "market.csv").write_text(market + ",".join(extra) + "\n", encoding="utf-8")
        expected = "'Pumpz' (closest: 'Pumps')"
    else:
        text = (SAMPLE / "plan.yaml").read_text(encoding="utf-8")
        plan = d / "plan.yaml"
        plan.write_text(text.replace("{product_line: Sensors}", "{product_line: Sensor}", 1))
        expected = "names a product line that is not in transactions.csv: 'Sensor' (closest: "
    assert _same_outcome(d, plan) is None
    with pytest.raises(InputError) as ei:
        load_cubes(d, plan, today=TODAY)
    assert expected in ei.value.render()


def test_product_cube_adds_up_to_the_cube_on_both_paths() -> None:
    fast = load_cubes(SAMPLE, SAMPLE / "plan.yaml", today=TODAY, engine="arrow")
    by_line = fast.cube.groupby(["month", "product_line"])[["revenue", "quantity"]].sum()
    products = fast.products.groupby(["month", "product_line"])[["revenue", "quantity"]].sum()
    pd.testing.assert_frame_equal(products, by_line, check_exact=False, rtol=1e-12)
    assert fast.products.groupby("product")["product_line"].nunique().max() == 1


def test_a_product_in_two_product_lines_is_refused_alike(tmp_path: Path) -> None:
    tx = _sample_lines()
    pumps = tx.index[tx["product_line"] == "Pumps"]
    valves = tx.index[tx["product_line"] == "Valves"]
    tx.loc[valves[[1, 3]], "product"] = tx.loc[pumps[0], "product"]
    d = _folder(tmp_path, tx, SAMPLE)
    assert _same_outcome(d) is None
    with pytest.raises(InputError) as ei:
        load_cubes(d, today=TODAY)
    text = ei.value.render()
    assert "column 'product'" in text and "belongs to more than one product line" in text
    assert f"{tx.loc[pumps[0], 'product']} (Pumps, Valves)" in text
    assert str(int(valves[1]) + 2) in text  # the line in the file (header = line 1)


def test_a_product_strategy_naming_an_unknown_product_is_refused_alike(tmp_path: Path) -> None:
    d = _folder(tmp_path, _sample_lines(), SAMPLE)
    text = (SAMPLE / "plan.yaml").read_text(encoding="utf-8")
    plan = d / "plan.yaml"
    plan.write_text(text.replace("product: S-300", "product: S-30O", 1), encoding="utf-8")
    assert _same_outcome(d, plan) is None
    with pytest.raises(InputError) as ei:
        load_cubes(d, plan, today=TODAY)
    assert "'S-30O' (closest: 'S-300')" in ei.value.render()
