"""Read plans: how a study's own export becomes a Dataset, as a plain mapping kept beside the data.

:func:`massage_outcomes.describe` proposes a plan; the researcher reviews it (answering every ``TODO``), keeps
it under version control, and reads with ``mo.read(source, mapping="plan.yaml")``. A plan is a
:class:`ReadPlan` (a ``dict``) or a ``.yaml``/``.json`` file holding one. Its keys (all optional but the
marker):

``massage_outcomes_plan``
    The plan format version (``1``): what tells a plan from a plain ``mapping={"old": "new"}`` dict.
``source``
    The file the plan was written for (informational).
``study``
    The study name when the data have no ``study`` column.
``subject``
    The subject key: a column, or a list of columns whose values together identify a subject
    (``[site, id]`` when ids repeat across sites; joined as ``"site-id"``), or ``"row"``: each row of a wide file
    is one subject (numbered from 1).
``arm``
    ``{column: <name>, values: {<code or label in the file>: <arm label>}, intent: {<arm label>: therapeutic |
    relaxation | control}}``; the study's own labels are kept as arms, ``intent`` classifies them.
``layout``
    ``long`` (one row per measurement) or ``wide`` (one column per visit).
``measurements``
    Wide layout: ``{<column>: {instrument: <key>, visit: <label>, day: <days since baseline>, timing:
    baseline | followup | pre | post, session: <n>}}``.
``value``, ``instrument``, ``visit``, ``day``
    Long layout: the columns holding them (``instrument`` may instead name one instrument key for the file).
``visits``
    ``{<visit label>: <day>}`` for a long file whose visit labels do not say their day.
``instruments``
    Study instruments, used for this read without touching the shared registry's definitions: ``{<key>:
    {label: <text>, range: [min, max], direction: lower | higher, integer: true | false, mcid: <points>}}``.
``time_varying``
    Columns kept with each measurement (age at visit, other items of a questionnaire).
``covariates``
    Columns kept as subject-level covariates.
``drop``
    Columns not read at all (identifiers: names, dates of birth, contact details).
``rename`` / ``recode``
    ``{<column>: <canonical name>}`` and ``{<column>: {<value>: <canonical value>}}``, as ``mapping=`` always took.
``read``
    Reader options: ``encoding``, ``delimiter``, ``decimal``, ``sheet``.
``primary_visit``
    The analysis's primary visit (the report and the notebooks read it from here).
``todo``
    Questions ``describe`` could not answer: ``[{key: <where>, question: <text>, candidates: [...]}]``. A plan with
    any entry here, or with a value beginning with ``TODO``, cannot be read: the error names each one.

Examples
--------
>>> plan = ReadPlan({"massage_outcomes_plan": 1, "subject": "pid", "layout": "wide",
...                  "measurements": {"pain_bl": {"instrument": "pain_nrs", "visit": "baseline", "day": 0}}})
>>> ReadPlan.from_text(plan.to_yaml()) == plan
True
>>> ReadPlan({"massage_outcomes_plan": 1, "instruments": {"x": {"direction": "TODO: lower or higher?"}}}).todos()
['instruments.x.direction: TODO: lower or higher?']
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from massage_outcomes.errors import ArgumentError

__all__ = ["ReadPlan", "PLAN_KEYS", "is_plan", "load_plan"]

MARKER = "massage_outcomes_plan"
VERSION = 1
#: every top-level key a plan may have, with the line that documents it in the YAML file
PLAN_KEYS: dict[str, str] = {
    MARKER: "plan format version",
    "source": "the file this plan was written for",
    "study": "study name when the data have no study column",
    "subject": "subject key: a column, [site, id] when ids repeat across sites, or row (one subject per row)",
    "arm": "arm column, its values -> the study's arm labels, and each arm's intent",
    "layout": "long (one row per measurement) or wide (one column per visit)",
    "measurements": "wide layout: source column -> instrument, visit, day, timing",
    "value": "long layout: the column holding the scores",
    "instrument": "long layout: the column naming the instrument, or one instrument key",
    "visit": "long layout: the visit column",
    "day": "long layout: the column of days since baseline",
    "visits": "visit label -> day since baseline",
    "instruments": "study instruments (label, range, direction, integer, mcid); the shared registry is not changed",
    "time_varying": "columns kept with each measurement",
    "covariates": "subject-level covariates",
    "drop": "columns not read (identifiers)",
    "rename": "column -> canonical name",
    "recode": "column -> {value in the file: canonical value}",
    "read": "reader options (encoding, delimiter, decimal, sheet)",
    "primary_visit": "the analysis's primary visit",
    "arms": "REDCap: arm number -> arm label (ADaM: TRT01P value -> arm label)",
    "fields": "REDCap: field -> instrument key, or [instrument, pre | post] for session ratings",
    "events": "REDCap: event name -> visit label",
    "paramcd": "ADaM: PARAMCD -> instrument key",
    "params": "ADaM: the PARAMCDs to read",
    "derived": "ADaM: DTYPE records: skip or prefer",
    "replicates": "ADaM: records differing only by ATPT: error or first",
    "screening": "ADaM: records before the reference date: skip or reject",
    "notes": "what describe assumed (to review; not read)",
    "todo": "questions describe could not answer: answer each, then delete it",
}


class ReadPlan(dict[str, Any]):
    """A read plan: a plain ``dict`` with the keys of :data:`PLAN_KEYS` (see the module docstring).

    Examples
    --------
    >>> p = ReadPlan({"massage_outcomes_plan": 1, "subject": "id", "todo": [
    ...     {"key": "arm", "question": "which column is the arm?", "candidates": ["grp", "x"]}]})
    >>> p.todos()
    ['arm: which column is the arm? (candidates: grp, x)']
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.setdefault(MARKER, VERSION)
        unknown = sorted(set(self) - set(PLAN_KEYS))
        if unknown:
            from massage_outcomes.schema import closest

            hints = [f"{k!r}" + (f" (did you mean {closest(k, PLAN_KEYS)!r}?)" if closest(k, PLAN_KEYS) else "")
                     for k in unknown]
            raise ArgumentError(f"the read plan has unknown keys {', '.join(hints)}; a plan's keys are "
                                f"{', '.join(PLAN_KEYS)}")

    # -- questions left open ------------------------------------------------------------------------------
    def todos(self) -> list[str]:
        """Every unanswered question: the ``todo`` entries and any value that begins with ``TODO``."""
        out = []
        for item in self.get("todo") or []:
            if isinstance(item, Mapping):
                text = f"{item.get('key', '?')}: {item.get('question', '')}"
                if item.get("candidates"):
                    text += f" (candidates: {', '.join(map(str, item['candidates']))})"
                out.append(text)
            else:
                out.append(str(item))
        out += [f"{where}: {value}" for where, value in _todo_values(self, "") if where != "todo"]
        return out

    def check(self, *, where: str = "the read plan") -> None:
        """Raise :class:`~massage_outcomes.errors.ArgumentError` naming each unanswered question."""
        open_ = self.todos()
        if open_:
            lines = "\n".join(f"  - {t}" for t in open_)
            raise ArgumentError(f"{where} has {len(open_)} unanswered question{'s' if len(open_) != 1 else ''}:\n"
                                f"{lines}\nAnswer each (and delete the todo entries), then read again.")

    # -- files --------------------------------------------------------------------------------------------
    def to_yaml(self, path: str | Path | None = None) -> str:
        """The plan as commented YAML (each key with the line that documents it); written to ``path`` if given."""
        import yaml

        chunks = ["# massage_outcomes read plan: review every entry, answer each TODO, keep it beside the data.",
                  "# Read with: mo.read(DATA, mapping=\"plan.yaml\")  or  massage-outcomes report DATA --mapping "
                  "plan.yaml"]
        for key in PLAN_KEYS:
            if key not in self:
                continue
            chunks.append(f"\n# {key}: {PLAN_KEYS[key]}")
            chunks.append(yaml.safe_dump({key: _plain(self[key])}, sort_keys=False, allow_unicode=True,
                                         width=110).rstrip())
        text = "\n".join(chunks) + "\n"
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def to_json(self, path: str | Path | None = None) -> str:
        """The plan as JSON; written to ``path`` if given."""
        text = json.dumps(_plain(dict(self)), indent=2, ensure_ascii=False) + "\n"
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    @classmethod
    def from_text(cls, text: str, *, suffix: str = ".yaml") -> ReadPlan:
        """A plan from YAML (or JSON, ``suffix=".json"``) text."""
        if suffix == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ArgumentError(f"a read plan is a mapping of keys to values, not {type(data).__name__}")
        return cls(data if MARKER in data else from_mapping(data))

    @classmethod
    def from_file(cls, path: str | Path) -> ReadPlan:
        """A plan from a ``.yaml``, ``.yml`` or ``.json`` file."""
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"no such read plan: {p}")
        suffix = p.suffix.lower()
        if suffix not in (".yaml", ".yml", ".json"):
            raise ArgumentError(f"a read plan is a .yaml, .yml or .json file, not {p.name!r}")
        try:
            return cls.from_text(p.read_text(encoding="utf-8"), suffix=suffix)
        except ArgumentError as err:
            raise ArgumentError(f"{p.name}: {err}") from None
        except Exception as err:  # YAML and JSON raise their own error types
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ArgumentError(f"the read plan {p.name} could not be parsed: {first}") from None


def _plain(obj: Any) -> Any:
    """Tuples as lists and numpy scalars as Python numbers, so YAML and JSON write plain values."""
    if isinstance(obj, Mapping):
        return {(k.item() if hasattr(k, "item") else k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        return obj.item()
    return obj


def _todo_values(obj: Any, where: str) -> list[tuple[str, str]]:
    if isinstance(obj, Mapping):
        return [hit for k, v in obj.items() for hit in _todo_values(v, f"{where}.{k}" if where else str(k))]
    if isinstance(obj, (list, tuple)):
        return [hit for i, v in enumerate(obj) for hit in _todo_values(v, f"{where}[{i}]")]
    if isinstance(obj, str) and obj.strip().upper().startswith("TODO"):
        return [(where, obj)]
    return []


#: keys of a plan file without the marker (the command line's first plans) that are reader options
_LEGACY_OPTIONS = {"layout": "layout", "wide": "measurements", "study": "study", "covariates": "covariates",
                   "primary_visit": "primary_visit", "time_varying": "time_varying"}


def from_mapping(data: Mapping[str, Any]) -> dict[str, Any]:
    """A plan from a file without the marker: reader options (``layout``, ``wide``, ``encoding``...) as plan
    keys, ``{"column": "name"}`` as ``rename``, ``{"column": {codes}}`` as ``recode``, ``[name, {codes}]`` both.

    Examples
    --------
    >>> from_mapping({"PatientID": "subject", "Group": ["arm", {"A": "therapeutic"}], "layout": "long"})
    {'massage_outcomes_plan': 1, 'layout': 'long', 'rename': {'PatientID': 'subject', 'Group': 'arm'}, 'recode': {'arm': {'A': 'therapeutic'}}}
    """
    data = dict(data)
    inner = data.pop("mapping", None)
    if isinstance(inner, Mapping):
        data = {**inner, **data}
    out: dict[str, Any] = {MARKER: VERSION}
    rename: dict[str, str] = {}
    recode: dict[str, Any] = {}
    read: dict[str, Any] = {}
    for key, value in data.items():
        if key in _LEGACY_OPTIONS:
            out[_LEGACY_OPTIONS[key]] = value
        elif key in READ_OPTIONS:
            read[key] = value
        elif isinstance(value, str):
            rename[str(key)] = value
        elif isinstance(value, (list, tuple)) and len(value) == 2 and isinstance(value[0], str):
            rename[str(key)] = value[0]
            recode[value[0]] = dict(value[1])
        elif isinstance(value, Mapping):
            recode[str(key)] = dict(value)
        else:
            raise ArgumentError(f"read plan entry {key!r}: a column name (rename), a dict (recode values) or "
                                f"[name, dict]; got {type(value).__name__}")
    if read:
        out["read"] = read
    if rename:
        out["rename"] = rename
    if recode:
        out["recode"] = recode
    return out


def is_plan(mapping: Any) -> bool:
    """True for a :class:`ReadPlan`, a plan file path, or a dict carrying the plan marker."""
    if isinstance(mapping, ReadPlan):
        return True
    if isinstance(mapping, (str, Path)):
        return True
    return isinstance(mapping, Mapping) and MARKER in mapping


def load_plan(mapping: Any) -> ReadPlan:
    """The :class:`ReadPlan` that ``mapping`` is or names (a path, a dict with the marker, a plan)."""
    if isinstance(mapping, ReadPlan):
        return mapping
    if isinstance(mapping, (str, Path)):
        return ReadPlan.from_file(mapping)
    return ReadPlan(dict(mapping))


# ---------------------------------------------------------------------------------------------------------------
# reading with a plan
# ---------------------------------------------------------------------------------------------------------------
def redcap_arguments(plan: ReadPlan) -> dict[str, Any]:
    """The ``mapping=`` of :func:`massage_outcomes.read_redcap` from a plan (arms, fields, events, subject)."""
    out: dict[str, Any] = {}
    for key, target in (("arms", "arms"), ("fields", "instruments"), ("events", "events")):
        if plan.get(key):
            out[target] = {k: tuple(v) if isinstance(v, list) else v for k, v in dict(plan[key]).items()}
    if isinstance(plan.get("subject"), str):
        out["subject"] = plan["subject"]
    out.update(plan_mapping(plan))
    return out


def adam_arguments(plan: ReadPlan) -> tuple[dict[str, Any], dict[str, Any]]:
    """(``mapping=``, keyword arguments) of :func:`massage_outcomes.read_adam` from a plan."""
    mapping: dict[str, Any] = {}
    if plan.get("paramcd"):
        mapping["paramcd"] = dict(plan["paramcd"])
    if plan.get("arms"):
        mapping["arms"] = dict(plan["arms"])
    if isinstance(plan.get("subject"), str):
        mapping["subject"] = plan["subject"]
    if plan.get("covariates"):
        mapping["covariates"] = list(plan["covariates"])
    mapping.update(plan_mapping(plan))
    kwargs = {k: plan[k] for k in ("params", "derived", "replicates", "screening", "study") if plan.get(k) is not None}
    return mapping, kwargs


#: reader options a plan's ``read`` section may set
READ_OPTIONS = ("encoding", "delimiter", "decimal", "sheet")


def read_options(plan: ReadPlan) -> dict[str, Any]:
    """The keyword arguments of :func:`massage_outcomes.read` that a plan sets (layout, wide, covariates...)."""
    out: dict[str, Any] = {}
    opts = plan.get("read") or {}
    unknown = sorted(set(opts) - set(READ_OPTIONS))
    if unknown:
        raise ArgumentError(f"the read plan's 'read' section has unknown keys {unknown}; allowed: {READ_OPTIONS}")
    out.update(opts)
    if plan.get("layout") is not None:
        out["layout"] = plan["layout"]
    if plan.get("measurements"):
        out["wide"] = {str(k): dict(v) if isinstance(v, Mapping) else v for k, v in plan["measurements"].items()}
        out.setdefault("layout", "wide")
    for key in ("covariates", "time_varying", "study"):
        if plan.get(key) is not None:
            out[key] = plan[key]
    return out


def plan_mapping(plan: ReadPlan) -> dict[str, Any]:
    """The plan's ``rename`` and ``recode`` as the ``mapping=`` dict the readers always took."""
    out: dict[str, Any] = {}
    for col, new in (plan.get("rename") or {}).items():
        out[str(col)] = str(new)
    for col, codes in (plan.get("recode") or {}).items():
        source = next((k for k, v in out.items() if v == str(col)), None)
        if str(col) in out and isinstance(out[str(col)], str):
            out[str(col)] = (out[str(col)], dict(codes))
        elif source is not None:
            out[source] = (str(col), dict(codes))
        else:
            out[str(col)] = dict(codes)
    return out


#: keys this session's plans registered (describe does not take them for shared instruments)
STUDY_KEYS: set[str] = set()


def shared_instrument(key: str) -> bool:
    """True for an instrument of the shared registry (not one a read plan declared in this session)."""
    from massage_outcomes import instruments as _instruments

    return _instruments.is_registered(str(key)) and str(key) not in STUDY_KEYS


def register_study_instruments(plan: ReadPlan) -> list[str]:
    """Make the plan's study instruments known for this read (the shipped registry's instruments are never
    redefined: a key that is already registered with another definition is an error naming it)."""
    from massage_outcomes import instruments as _instruments

    keys = []
    for key, spec in (plan.get("instruments") or {}).items():
        spec = dict(spec or {})
        unknown = sorted(set(spec) - {"label", "range", "range_from", "direction", "integer", "mcid", "unit"})
        if unknown:
            raise ArgumentError(f"read plan instruments.{key} has unknown keys {unknown}; allowed: label, range, "
                                "direction, integer, mcid, unit")
        try:
            lo, hi = (float(v) for v in spec["range"])
        except (KeyError, TypeError, ValueError):
            raise ArgumentError(f"read plan instruments.{key}.range must be [min, max]; got "
                                f"{spec.get('range')!r}") from None
        direction = spec.get("direction")
        if direction not in ("lower", "higher"):
            raise ArgumentError(f"read plan instruments.{key}.direction must be 'lower' (lower scores are better) "
                                f"or 'higher'; got {direction!r}")
        mcids: tuple[Any, ...] = ()
        if spec.get("mcid") is not None:
            mcids = (_instruments.MCID(float(spec["mcid"]), population="this study's plan",
                                       source="read plan"),)
        inst = _instruments.Instrument(key=str(key), name=str(spec.get("label") or key), construct="study instrument",
                                       min=lo, max=hi, direction=direction, integer=bool(spec.get("integer", False)),
                                       unit=str(spec.get("unit") or "points"), mcids=mcids)
        if _instruments.is_registered(str(key)):
            old = _instruments.get(str(key))
            if (old.min, old.max, old.direction) != (inst.min, inst.max, inst.direction):
                raise ArgumentError(f"read plan instruments.{key}: {key!r} is already registered as {old.name} "
                                    f"({old.min:g}-{old.max:g}, {old.direction} is better); give the study's "
                                    "instrument its own key")
        else:
            _instruments.register(inst)
            STUDY_KEYS.add(str(key))
        keys.append(str(key))
    return keys


def prepare_frame(plan: ReadPlan, frame: Any, record: dict[str, str]) -> Any:
    """Apply the plan's column choices to a raw frame (no row is added or removed): drop, subject key, arm and
    intent, long-layout columns, visit days. Renames go to ``record`` ({user's column: new name})."""
    import pandas as pd

    from massage_outcomes.io._mapping import record_renames, resolve_column, unknown_column

    def col(name: Any, what: str) -> Any:
        found = resolve_column(name, list(frame.columns))
        if found is None:
            raise ArgumentError(unknown_column(name, list(frame.columns), what=f"the read plan's {what}"))
        return found

    drop = [col(c, "drop") for c in plan.get("drop") or []]
    frame = frame.drop(columns=drop) if drop else frame.copy()
    subject = plan.get("subject")
    if subject == "row":
        frame.insert(0, "subject", [str(i) for i in range(1, len(frame) + 1)])
    elif isinstance(subject, (list, tuple)):
        parts = [col(c, "subject") for c in subject]
        from massage_outcomes.coerce import as_text

        text = [as_text(frame[c]).astype(object) for c in parts]
        joined = text[0].str.cat(text[1:], sep="-") if len(text) > 1 else text[0]
        frame.insert(0, "subject", joined.to_numpy())
        record["+".join(map(str, parts))] = "subject"
    elif subject is not None:
        c = col(subject, "subject")
        if c != "subject":
            frame = frame.rename(columns={c: "subject"})
            record_renames(record, {c: "subject"})
    arm = plan.get("arm")
    if arm is not None:
        frame = _plan_arm(frame, arm if isinstance(arm, Mapping) else {"column": arm}, col, record)
    for key in ("value", "visit", "day"):
        if plan.get(key) is not None:
            c = col(plan[key], key)
            if c != key:
                frame = frame.rename(columns={c: key})
                record_renames(record, {c: key})
    inst = plan.get("instrument")
    if inst is not None:
        c = resolve_column(inst, list(frame.columns))
        if c is None:  # one instrument for the whole file
            frame["instrument"] = str(inst)
        elif c != "instrument":
            frame = frame.rename(columns={c: "instrument"})
            record_renames(record, {c: "instrument"})
    visits = plan.get("visits") or {}
    if visits and "visit" in frame.columns and "day" not in frame.columns:
        days = {str(k).strip().lower(): float(v) for k, v in visits.items()}
        frame["day"] = frame["visit"].map(lambda v: days.get(str(v).strip().lower()) if not pd.isna(v) else None)
    return frame


def _plan_arm(frame: Any, arm: Mapping[str, Any], col: Any, record: dict[str, str]) -> Any:
    from massage_outcomes.io._mapping import record_renames

    c = col(arm.get("column"), "arm column")
    values = {str(k): v for k, v in (arm.get("values") or {}).items()}
    raw = frame[c]

    def text(v: Any) -> str | None:
        if v is None or (isinstance(v, float) and v != v):
            return None
        return str(int(v)) if isinstance(v, float) and v == int(v) else str(v)

    labels = raw.map(lambda v: values.get(text(v) or "", text(v)) if text(v) is not None else None)
    frame = frame.drop(columns=[c]) if c != "arm" else frame
    frame["arm"] = labels.astype(object).to_numpy()
    if c != "arm":
        record_renames(record, {c: "arm"})
    intent = {str(k): v for k, v in (arm.get("intent") or {}).items()}
    if intent and "intent" not in frame.columns:
        frame["intent"] = frame["arm"].map(lambda a: intent.get(str(a)) if a is not None else None)
    return frame
