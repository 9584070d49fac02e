"""Print the mutation score of each mutated module from mutmut's results (mutants/*.meta), and
the survivors to work on. Exits 1 when a module is under the bar (90 % killed), or when a module
listed in pyproject.toml's [tool.mutmut] only_mutate has no results at all.

Run by scripts/mutation after `mutmut run`; on its own: .venv/bin/python scripts/mutation_scores.py
`--pragmas` prints instead the mutants marked equivalent in the mutated modules, as the README lists
them (tests/test_docs.py keeps the two the same).
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from collections import Counter
from pathlib import Path

BAR = 0.90
ROOT = Path(__file__).resolve().parents[1]
# mutmut's exit codes: 1 and 3 a failing test, 36/24/152/255/-24 a timeout (the mutant loops),
# 37 a type checker's refusal; 0 survived, 33/5 no selected test reaches it.
KILLED = {1, 3, 24, 36, 37, 152, 255, -24}
NOT_KILLED = {0: "survived", 5: "no tests", 33: "no tests", None: "not checked"}


def exit_codes(path: str) -> dict[str, int | None]:
    meta = ROOT / "mutants" / (path + ".meta")
    return json.loads(meta.read_text())["exit_code_by_key"] if meta.exists() else {}


PRAGMA = re.compile(r"#\s*pragma: no mutate(?::\s*(?P<reason>.*))?$")


def pragmas(modules: list[str]) -> list[str]:
    """One line per module and reason: "- `path` lines 3, 9: reason." (README's form)."""
    lines = []
    for path in modules:
        by_reason: dict[str, list[int]] = {}
        for number, text in enumerate((ROOT / path).read_text().splitlines(), start=1):
            found = PRAGMA.search(text)
            if found:
                by_reason.setdefault((found["reason"] or "").strip().rstrip("."), []).append(number)
        for reason, numbers in by_reason.items():
            label = "line" if len(numbers) == 1 else "lines"
            lines.append(f"- `{path}` {label} {', '.join(map(str, numbers))}: {reason or 'no reason given'}.")
    return lines


def outcome(code: int | None) -> str:
    return "killed" if code in KILLED else NOT_KILLED.get(code, "suspicious")


def main(argv: list[str]) -> int:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    modules = config["only_mutate"]
    if "--pragmas" in argv:
        print("\n".join(pragmas(modules)))
        return 0
    failing = 0
    columns = ("mutants", "killed", "survived", "no tests", "not run", "score")
    print(f"{'module':<44} " + " ".join(f"{name:>8}" for name in columns))
    totals: Counter[str] = Counter()
    for path in modules:
        counts = Counter(outcome(code) for code in exit_codes(path).values())
        total = sum(counts.values())
        totals += counts
        score = counts["killed"] / total if total else 0.0
        failing += score < BAR
        mark = "" if score >= BAR else "  < 90 %"
        print(
            f"{path:<44} {total:>7} {counts['killed']:>7} {counts['survived']:>8} {counts['no tests']:>8}"
            f" {counts['not checked']:>7}"
            f" {score:>6.1%}{mark}"
        )
    total = sum(totals.values())
    print(f"{'all':<44} {total:>7} {totals['killed']:>7} {totals['survived']:>8} {totals['no tests']:>8}"
          f" {totals['not checked']:>7} {totals['killed'] / max(total, 1):>6.1%}")  # fmt: skip
    if "--survivors" in argv:
        for path in modules:
            for name, code in sorted(exit_codes(path).items()):
                if outcome(code) != "killed":
                    print(f"{name}  {outcome(code)}")
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
