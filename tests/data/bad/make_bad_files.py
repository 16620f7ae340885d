"""Regenerate the bad-input corpus: ``python tests/data/bad/make_bad_files.py``.

Each file breaks one rule; ``tests/test_validate.py`` holds the table of what each must report (rule, row,
column) and which rows quarantine must reject. Files are small and deterministic.
"""

from __future__ import annotations

import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
HEADER = "subject,arm,condition,instrument,visit,day,timing,session,value"
GOOD = [
    "s1,therapeutic,low_back_pain,rmdq,baseline,0,baseline,,12",       # line 2
    "s1,therapeutic,low_back_pain,rmdq,week 10,70,followup,,7",        # line 3
    "s2,relaxation,low_back_pain,rmdq,baseline,0,baseline,,14",        # line 4
    "s2,relaxation,low_back_pain,pain_nrs,,7,pre,1,6",                 # line 5
    "s2,relaxation,low_back_pain,pain_nrs,,7,post,1,4",                # line 6
]


def csv_with(bad_line: str, *, at: int = 4, header: str = HEADER) -> str:
    """The good rows with ``bad_line`` inserted so that it is file line ``at``."""
    lines = list(GOOD)
    lines.insert(at - 2, bad_line)
    return header + "\n" + "\n".join(lines) + "\n"


def write(name: str, text: str | bytes) -> None:
    path = HERE / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8", newline="")
    else:
        path.write_bytes(text)


def main() -> None:
    rng = random.Random(20240601)
    write("empty.csv", "")
    write("header_only.csv", HEADER + "\n")
    write("blank_lines_only.csv", "\n\n\n")
    write("wrong_delimiter_colon.csv", "\n".join([HEADER.replace(",", ":")] + [g.replace(",", ":") for g in GOOD]) + "\n")
    write("binary_junk.csv", bytes(rng.randrange(256) for _ in range(2048)))
    write("binary_junk_no_nul.csv", bytes(rng.choice(range(128, 256)) for _ in range(2048)))
    write("typo_value_column.csv", csv_with("s3,relaxation,low_back_pain,rmdq,baseline,0,baseline,,3",
                                            header=HEADER.replace(",value", ",valeu")))
    write("typo_subject_column.csv", csv_with("s3,relaxation,low_back_pain,rmdq,baseline,0,baseline,,3",
                                              header=HEADER.replace("subject,", "subjcet,")))
    write("fraction_value.csv", csv_with("s3,relaxation,low_back_pain,pain_nrs,baseline,0,baseline,,7/10"))
    write("word_value.csv", csv_with("s3,relaxation,low_back_pain,rmdq,baseline,0,baseline,,seven"))
    write("na_value.csv", csv_with("s3,relaxation,low_back_pain,rmdq,baseline,0,baseline,,N/A"))
    write("out_of_range.csv", csv_with("s3,relaxation,low_back_pain,pain_nrs,baseline,0,baseline,,11"))
    write("huge_value.csv", csv_with("s3,relaxation,low_back_pain,rmdq,baseline,0,baseline,,1e308"))
    write("huge_integer.csv", csv_with("s3,relaxation,low_back_pain,rmdq,baseline,0,baseline,,99999999999999999999999"))
    write("unknown_instrument.csv", csv_with("s3,relaxation,low_back_pain,rmdq_total,baseline,0,baseline,,3"))
    write("unknown_condition.csv", csv_with("s3,relaxation,low back pian,rmdq,baseline,0,baseline,,3"))
    write("unknown_timing.csv", csv_with("s3,relaxation,low_back_pain,rmdq,baseline,0,during,,3"))
    write("unknown_technique.csv",
          HEADER + ",technique\n" + "\n".join(g + "," for g in GOOD[:3]) + "\n" +
          "s2,relaxation,low_back_pain,pain_nrs,,7,pre,1,6,swedsh massage\n")
    write("duplicate_key.csv", csv_with("s1,therapeutic,low_back_pain,rmdq,week 10,70,followup,,9", at=5))
    write("arm_changes.csv", csv_with("s1,relaxation,low_back_pain,rmdq,week 26,182,followup,,5", at=5))
    write("condition_changes.csv", csv_with("s2,relaxation,sciatica,rmdq,week 26,182,followup,,5", at=7))
    write("negative_day.csv", csv_with("s1,therapeutic,low_back_pain,rmdq,week 26,-14,followup,,5"))
    write("impossible_day.csv", csv_with("s1,therapeutic,low_back_pain,rmdq,week 26,99999,followup,,5"))
    write("day_not_number.csv", csv_with("s1,therapeutic,low_back_pain,rmdq,week 26,six months,followup,,5"))
    write("post_without_session.csv", csv_with("s2,relaxation,low_back_pain,pain_nrs,,14,post,,3", at=7))
    write("session_not_whole.csv", csv_with("s2,relaxation,low_back_pain,pain_nrs,,14,post,2.5,3", at=7))
    write("empty_subject.csv", csv_with(",relaxation,low_back_pain,rmdq,baseline,0,baseline,,3"))
    write("bad_date.csv", HEADER + ",date\n" + "\n".join(g + ",2024-03-0" + str(i + 1) for i, g in enumerate(GOOD[:3]))
          + "\ns3,relaxation,low_back_pain,rmdq,baseline,0,baseline,,3,2024-02-30\n")
    write("delimiters_only_row.csv", csv_with("," * HEADER.count(",")))
    write("ragged_row.csv", csv_with("s3,relaxation,low_back_pain,rmdq,baseline,0,baseline,,3,extra"))
    write("unclosed_quote.csv", csv_with('s3,"relaxation,low_back_pain,rmdq,baseline,0,baseline,,3', at=7))
    write("negative_duration.csv", HEADER + ",duration_min\n" + "\n".join(g + ",60" for g in GOOD[:3]) +
          "\ns2,relaxation,low_back_pain,pain_nrs,,7,pre,1,6,-30\n")
    utf8 = (HEADER + ",clinic\n" + "\n".join(g + ",Malmö" for g in GOOD[:3]) + "\n").encode("utf-8")
    latin = "s3,relaxation,low_back_pain,rmdq,baseline,0,baseline,,3,Malmö\n".encode("latin-1")
    write("mixed_encoding.csv", utf8 + latin)
    wide = ("subject,arm,rmdq_baseline,rmdq_week10\n"
            "s1,therapeutic,12,7\n"
            "s2,relaxation,14,7/10\n"
            "s3,relaxation,15,9\n")
    write("wide_fraction.csv", wide)
    write("not_an_excel.xlsx", "subject,value\ns1,3\n")
    _excel()
    _folder()


def _excel() -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "outcomes"
    ws.append(HEADER.split(","))
    for g in GOOD[:3]:
        ws.append([_cell(v) for v in g.split(",")])
    ws.append([_cell(v) for v in "s3,relaxation,low_back_pain,rmdq,baseline,0,baseline,,seven".split(",")])
    wb.save(HERE / "word_value.xlsx")


def _cell(v: str) -> object:
    if v == "":
        return None
    try:
        return float(v) if "." in v else int(v)
    except ValueError:
        return v


def _folder() -> None:
    d = HERE / "session_not_in_sessions"
    d.mkdir(exist_ok=True)
    (d / "subjects.csv").write_text("subject,arm,condition\ns1,therapeutic,low_back_pain\n", encoding="utf-8")
    (d / "sessions.csv").write_text("subject,session,day,technique\ns1,1,7,deep_tissue\n", encoding="utf-8")
    (d / "outcomes.csv").write_text(
        "subject,instrument,day,timing,session,value\n"
        "s1,pain_nrs,0,baseline,,6\n"
        "s1,pain_nrs,7,pre,1,5\n"
        "s1,pain_nrs,14,post,2,3\n", encoding="utf-8")


if __name__ == "__main__":
    main()
