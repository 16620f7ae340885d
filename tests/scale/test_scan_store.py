"""Dataset.to_duckdb writes the embedded store; a scan of it gives the in-memory numbers."""

from __future__ import annotations

import warnings

import duckdb
import pytest

import massage_outcomes as mo
from massage_outcomes.scale import scan


@pytest.mark.parametrize("name", ["trial", "clinic"])
def test_duckdb_store_round_trip(tmp_path, name, same_table):
    ds = mo.load_sample(name)
    path = ds.to_duckdb(tmp_path / f"{name}.duckdb")
    con = duckdb.connect(str(path), read_only=True)
    types = dict(con.sql("SELECT column_name, data_type FROM information_schema.columns "
                         "WHERE table_name = 'subjects'").fetchall())
    assert types["condition"].startswith("ENUM(")
    assert con.sql("SELECT count(*) FROM outcomes").fetchall()[0][0] == len(ds.outcomes)
    assert sorted(r[0] for r in con.sql("SELECT key FROM instruments").fetchall()) == sorted(ds.instruments)
    con.close()
    sc = scan(path)
    assert sc.count() == len(ds.outcomes)
    assert sc.validate().ok
    inst = ds.instruments[0]
    kw = dict(instrument=inst, by="technique") if name == "trial" else \
        dict(instrument=inst, by="clinic", compare=("intent", "therapeutic", "relaxation"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mo.SmallSampleWarning)
        same_table(sc.effect_sizes(**kw).full, mo.effect_sizes(ds, **kw).full)


def test_refuses_to_overwrite(tmp_path):
    ds = mo.load_sample("trial")
    ds.to_duckdb(tmp_path / "t.duckdb")
    with pytest.raises(mo.DataValidationError, match="overwrite=True"):
        ds.to_duckdb(tmp_path / "t.duckdb")
    ds.to_duckdb(tmp_path / "t.duckdb", overwrite=True)
