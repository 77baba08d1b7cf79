"""Reading manifests (DEVELOPERS.md: `load_documents(text, source)`): YAML or JSON, multi-document,
`kind: List`, size and alias-bomb limits, errors naming the source and the document number."""

from __future__ import annotations

import json
import re

import pytest

from core.errors import ImcError, ManifestError
from core.manifests import MAX_MANIFEST_BYTES, load_documents

POD = "apiVersion: v1\nkind: Pod\nmetadata: {name: NAME}\nspec: {containers: [{name: c, image: nginx}]}\n"


def pods(*names: str) -> str:
    return "---\n".join(POD.replace("NAME", n) for n in names)


def names(objects: list[dict]) -> list[str]:
    return [o["metadata"]["name"] for o in objects]


def test_multi_document_yaml_in_order() -> None:
    assert names(load_documents(pods("a", "b", "c"), "three.yaml")) == ["a", "b", "c"]


def test_kind_list_is_unwrapped() -> None:
    items = [{"kind": "Pod", "metadata": {"name": n}} for n in ("x", "y")]
    text = json.dumps({"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}})
    assert names(load_documents(text, "list.json")) == ["x", "y"]


def test_bytes_and_json_are_accepted() -> None:
    text = json.dumps({"kind": "Pod", "metadata": {"name": "j"}})
    assert names(load_documents(text.encode(), "pod.json")) == ["j"]


def test_empty_documents_are_skipped() -> None:
    assert names(load_documents("---\n" + pods("a") + "---\n---\n", "gaps.yaml")) == ["a"]


@pytest.mark.parametrize(
    ("text", "number"),
    [
        (pods("a") + "---\nkind: Pod\nmetadata: {name: [\n", 2),
        (pods("a", "b") + "---\n- just\n- a list\n", 3),
        ("kind: Pod\nmetadata:\n  name: x\n bad: indent\n", 1),
    ],
    ids=["parse-error-in-2", "not-an-object-in-3", "parse-error-in-1"],
)
def test_errors_name_the_source_and_document(text: str, number: int) -> None:
    with pytest.raises(ManifestError) as info:
        load_documents(text, "where/it/came/from.yaml")
    message = str(info.value)
    assert "where/it/came/from.yaml" in message
    assert re.search(rf"\b{number}\b", message), message
    assert "\n" not in message.strip(), "one line"


def test_alias_bomb_is_refused() -> None:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    for level in range(1, 9):
        prev = chr(ord("a") + level - 1)
        cur = chr(ord("a") + level)
        lines.append(f"{cur}: &{cur} [{','.join(['*' + prev] * 10)}]")
    with pytest.raises(ImcError) as info:
        load_documents("\n".join(lines) + "\n", "bomb.yaml")
    assert "bomb.yaml" in str(info.value)


def test_too_large_a_manifest_is_refused() -> None:
    text = "# " + "x" * MAX_MANIFEST_BYTES + "\n" + pods("a")
    with pytest.raises(ImcError) as info:
        load_documents(text, "huge.yaml")
    assert "huge.yaml" in str(info.value)
