"""Write the simulated trial used by the MMRM / emmeans R references (run once; the CSV is committed).

    /work/venv/bin/python tests/reference/mmrm/make_data.py
"""

from pathlib import Path

import massage_outcomes as mo

here = Path(__file__).parent
ds = mo.simulate_trial(n_per_arm=40, seed=3)
af = ds.analysis_frame("rmdq")
post = af[af["timing"].astype(str) != "baseline"].copy()
visits = ["week_4", "week_10", "week_26"]
post["visit"] = post["visit"].astype(str)
post["visit_index"] = post["visit"].map({v: i + 1 for i, v in enumerate(visits)})
cols = ["subject", "arm", "sex", "age", "visit", "visit_index", "baseline", "value"]
post[cols].sort_values(["subject", "visit_index"]).to_csv(here / "trial.csv", index=False)
print(len(post), "rows,", post["subject"].nunique(), "subjects")
