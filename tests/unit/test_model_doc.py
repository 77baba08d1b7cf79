"""docs/eci-model.md is in the repository, and every section the code cites from it exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "docs" / "eci-model.md"
CITATION = re.compile(r"docs/eci-model\.md,? (?:section )?(\d+(?:\.\d+)?)")


def numbers() -> set[str]:
    """The numbers of the model's sections ('## 3. ...') and rules ('3.4 ...')."""
    text = MODEL.read_text()
    sections = set(re.findall(r"^## (\d+)\. ", text, re.MULTILINE))
    rules = set(re.findall(r"^(\d+\.\d+) ", text, re.MULTILINE))
    return sections | rules


def test_every_citation_names_a_section_of_the_model():
    cited = {}
    for path in ROOT.rglob("*.py"):
        if ".git" in path.parts:
            continue
        for number in CITATION.findall(path.read_text()):
            cited.setdefault(number, path.relative_to(ROOT))
    assert len(cited) >= 5  # the engine's modules cite it
    missing = {number: str(path) for number, path in cited.items() if number not in numbers()}
    assert not missing, missing


def test_every_rule_names_a_source_or_says_it_is_the_model():
    text = MODEL.read_text()
    for section in re.split(r"^## ", text, flags=re.MULTILINE)[2:]:
        assert re.search(r"\[(CRD|Overview|Manage|Create|Events|Docker|Kubernetes)\]|\*\*Model\*\*", section), section[:60]
