"""Running a peer (R, another Python package) in a subprocess that prints its measurement as a JSON line."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from typing import Any


def run_json(cmd: Sequence[str], *, timeout: float, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The last line starting with ``{`` that ``cmd`` prints, parsed; ``{"skipped": why}`` on a timeout or failure.

    Examples
    --------
    >>> import sys
    >>> run_json([sys.executable, "-c", "print('{\\"s\\": 1.5}')"], timeout=60)
    {'s': 1.5}
    """
    try:
        out = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout, check=False,
                             env=dict(env) if env is not None else None)
    except subprocess.TimeoutExpired:
        return {"skipped": f"> {timeout:.0f} s"}
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        return {"skipped": f"failed: {out.stderr.strip()[-300:]}"}
    return json.loads(lines[-1])
