"""The register of mechanism claims (lectures/mechanisms.yml): every sentence it lists is on
its page, and the hidden check that backs it is still in a hidden cell of that page, so a
claim cannot outlive its evidence, nor be reworded without its entry."""
import re

import jupytext
import pytest
import yaml

from booktools.book import ROOT

REGISTER = ROOT / "lectures" / "mechanisms.yml"


def collapse(text):
    return re.sub(r"\s+", " ", text).strip()


def plain(text):
    """The page's text as it reads: `{term}`buffers <buffer>`` as buffers, `{{term}}`, the
    same role written in an f-string, too."""
    return collapse(re.sub(r"\{\{?term\}?\}`([^`<]*?)\s*(?:<[^`]*>)?`", r"\1", text))


def problems(entry):
    """What is wrong with one entry of the register: [] when its claim stands on its page and
    its check stands in one of the page's hidden cells."""
    page = ROOT / "lectures" / entry.get("page", "")
    if not page.is_file():
        return [f"no page {entry.get('page')!r}"]
    found = []
    text = page.read_text(encoding="utf-8")
    if collapse(entry.get("claim", "")) not in plain(text) or not entry.get("claim"):
        found.append(f"{entry['page']}: the claim {entry.get('claim')!r} is not on the page")
    if "check" not in entry and "documented" not in entry:
        found.append(f"{entry['page']}: {entry.get('claim')!r} has neither a check nor a documented source")
    if "check" in entry:
        hidden = [collapse(cell.source) for cell in jupytext.reads(text, "md:myst").cells
                  if cell.cell_type == "code" and "remove-cell" in cell.metadata.get("tags", [])]
        if not any(collapse(entry["check"]) in source for source in hidden):
            found.append(f"{entry['page']}: the check {entry['check']!r} is in no hidden cell of the page")
    if "documented" in entry and not str(entry["documented"]).startswith("https://"):
        found.append(f"{entry['page']}: 'documented' must be an address")
    return found


ENTRIES = yaml.safe_load(REGISTER.read_text(encoding="utf-8"))


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: f"{e.get('page')}:{e.get('claim', '')[:40]}")
def test_every_registered_mechanism_claim_stands_on_its_page_with_its_check(entry):
    assert problems(entry) == []


def test_the_register_covers_every_lecture_that_explains_a_mechanism():
    pages = {entry["page"] for entry in ENTRIES}
    assert {"numpy.md", "numba.md", "jax_intro.md", "vectorized.md", "sequential.md", "scaling.md",
            "beyond_one_device.md"} <= pages


def test_a_planted_entry_whose_check_is_gone_fails():
    entry = dict(next(e for e in ENTRIES if e["page"] == "vectorized.md" and "check" in e))
    assert problems(entry) == []
    gone = {**entry, "check": "assert compute_max_naive_parallel(grid) == 42"}
    assert any("is in no hidden cell" in problem for problem in problems(gone))
    reworded = {**entry, "claim": "Numba combines the threads' copies of m at random."}
    assert any("is not on the page" in problem for problem in problems(reworded))
    assert any("neither a check" in problem
               for problem in problems({"page": entry["page"], "claim": entry["claim"]}))
