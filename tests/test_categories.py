"""Category names from other systems onto kanal's categories (core/categories.py)."""

from __future__ import annotations

import pytest

from core.categories import CategoryError, CategoryIndex, fold, load, load_mapping
from core.settings import resolve

ITEMS = [{"id": "pohon-tumbang", "id_name": "Pohon tumbang", "aliases": ["Pohon"]},
         {"id": "lainnya", "id_name": "Lainnya"}]


@pytest.mark.parametrize("name", ["Pohon Tumbang", "pohon-tumbang", " POHON\ttumbang ",
                                  "Pöhon  tumbang", "pohon_tumbang!"])
def test_names_fold_alike(name):
    assert fold(name) == "pohon tumbang"


def test_resolve_keeps_the_clients_name_unless_it_is_the_id():
    index = CategoryIndex(ITEMS)
    assert index.resolve("pohon-tumbang") == ("pohon-tumbang", None)
    assert index.resolve("Pohon") == ("pohon-tumbang", "Pohon")
    assert index.resolve("Kucing hilang") == ("lainnya", "Kucing hilang")
    assert index.resolve(None) == index.resolve("  ") == (None, None)
    assert CategoryIndex(ITEMS[:1]).resolve("UFO") == (None, "UFO")  # no lainnya: unset


def test_a_clients_mapping_wins_over_the_aliases():
    index = CategoryIndex(ITEMS, {"pohon": "lainnya"})
    assert index.resolve("POHON") == ("lainnya", "POHON")


def test_an_alias_of_two_categories_is_refused():
    with pytest.raises(CategoryError, match="names both 'pohon-tumbang' and 'taman'"):
        CategoryIndex([*ITEMS, {"id": "taman", "aliases": ["pohon"]}])


def test_the_shipped_categories_load_and_know_lainnya():
    items = load(resolve("config/categories.yaml"))
    assert "lainnya" in CategoryIndex(items).ids


def test_a_mapping_must_name_known_categories(tmp_path):
    path = tmp_path / "map.yaml"
    path.write_text('"Kabel Semrawut": kabel\n')
    with pytest.raises(CategoryError, match="not one of"):
        load_mapping(path, ["lainnya"])
    path.write_text("- just a list\n")
    with pytest.raises(CategoryError, match="expected a mapping"):
        load_mapping(path, ["lainnya"])
    with pytest.raises(CategoryError, match="not found"):
        load_mapping(tmp_path / "missing.yaml", ["lainnya"])
