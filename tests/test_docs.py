"""A clone has everything its docs point to: the README leads to the project's own architecture
page, and every file that page names exists."""

import importlib.util
import os
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARCHITECTURE = ROOT / "docs" / "architecture.md"
PRAGMA_LIST_HEADING = "Marked equivalent (`# pragma: no mutate: <reason>` on the line) in the code today"


def test_the_readme_points_to_the_projects_own_architecture_page() -> None:
    first_paragraph = (ROOT / "README.md").read_text().split("\n\n")[1]
    assert "docs/architecture.md" in first_paragraph
    assert "DESIGN.md" not in first_paragraph and "STYLE.md" not in first_paragraph
    # and nothing in the project sends a reader to docs a clone does not have
    for path in [*ROOT.glob("*.md"), *ROOT.glob("*/**/*.py"), *ROOT.glob("*/**/*.md")]:
        if {".venv", "mutants"} & set(path.parts) or path == Path(__file__):
            continue
        text = path.read_text(errors="replace")
        assert "DESIGN.md" not in text and "STYLE.md" not in text, path


def test_the_architecture_page_names_files_that_exist() -> None:
    text = ARCHITECTURE.read_text()
    for heading in ("## The apps", "## From payment to fulfillment", "## The eight rules", "## How the code"):
        assert heading in text
    assert len(re.findall(r"^\d\. \*\*", text.split("## The eight rules")[1], re.MULTILINE)) == 8
    named = set(re.findall(r"`((?:[a-z_]+/)+[a-z_]*(?:\.py|/))`", text))
    assert "payments/stripe_gateway.py" in named
    missing = sorted(path for path in named if not (ROOT / path).exists())
    assert missing == []


def test_the_functions_and_fields_the_architecture_page_names_exist() -> None:
    text = ARCHITECTURE.read_text()
    code = "\n".join(p.read_text() for p in ROOT.glob("*/**/*.py") if ".venv" not in p.parts)
    named = set(re.findall(r"`([a-z]+(?:_[a-z]+)+)`", text))
    assert {"order_apply_payment_intent", "stripe_object_apply", "money_column"} <= named
    missing = sorted(name for name in named if not re.search(rf"\b{name}\b", code))
    assert missing == []


@pytest.mark.skipif(
    "MUTANT_UNDER_TEST" in os.environ, reason="under mutmut the modules are its rewritten copies"
)
def test_the_readmes_list_of_equivalent_mutants_is_the_codes() -> None:
    # The README lists every `# pragma: no mutate` of the mutated modules with its reason; the
    # list is what `scripts/mutation_scores.py --pragmas` reads off the code today.
    spec = importlib.util.spec_from_file_location("mutation_scores", ROOT / "scripts" / "mutation_scores.py")
    assert spec is not None and spec.loader is not None
    scores = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(scores)
    modules = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]["only_mutate"]
    readme = (ROOT / "README.md").read_text()
    # the heading's paragraph, then the list up to the next blank line
    listed = readme.split(PRAGMA_LIST_HEADING, 1)[1].split("\n\n", 2)[1].splitlines()
    assert listed == scores.pragmas(modules)
