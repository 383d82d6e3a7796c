"""`audit search --package`'s versions against packaging itself: a truth table of queries and
versions (local builds, pre-releases, wildcards, ranges, exclusions)."""

from __future__ import annotations

import itertools

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from engine.ledger.package_query import parse_package_query
from engine.ledger.reference import QueryError

VERSIONS = ["2.5.1", "2.5.1+cu121", "2.6.0", "2.6.0+cu124", "2.6.0rc1", "2.6.1", "2.7.0",
            "2.7.0.post1", "2.7.1.dev3", "2.10.0", "1!1.0", "3.0"]
# query -> the specifier packaging reads it as (NAME@V is NAME==V)
QUERIES = {
    "torch@2.6.0": "==2.6.0", "torch@2.6.0+cu124": "==2.6.0+cu124", "torch<2.6": "<2.6",
    "torch<=2.6.0": "<=2.6.0", "torch>2.6": ">2.6", "torch>=2.5,<2.7": ">=2.5,<2.7",
    "torch~=2.6": "~=2.6", "torch~=2.6.0": "~=2.6.0", "torch!=2.6.0": "!=2.6.0",
    "torch==2.7.*": "==2.7.*", "torch==2.7.0": "==2.7.0", "torch===2.6.0": "===2.6.0",
    "torch>=2.7.0rc1": ">=2.7.0rc1", "torch >= 2.6 , < 2.7": ">=2.6,<2.7",
}


@pytest.mark.parametrize(("query", "version"), list(itertools.product(QUERIES, VERSIONS)))
def test_truth_table_against_packaging(query: str, version: str) -> None:
    expected = SpecifierSet(QUERIES[query]).contains(Version(version), prereleases=True)
    parsed = parse_package_query(query)
    assert parsed.name == "torch"
    assert parsed.matches(version) is expected


def test_a_bare_name_matches_every_version_even_one_pep_440_cannot_read() -> None:
    query = parse_package_query("Typing_Extensions")
    assert all(query.matches(v) for v in [*VERSIONS, "1.0_conda", None])


def test_a_version_pep_440_cannot_read_matches_only_its_own_text() -> None:
    query = parse_package_query("libgcc@13.2.0_1")
    assert query.matches("13.2.0_1")
    assert not query.matches("13.2.0")
    assert not parse_package_query("libgcc<14").matches("13.2.0_1")


@pytest.mark.parametrize("query", ["torch@", "@2.6", "torch<<2", "torch==2.6.*.1", "torch=2.6",
                                   "torch[cuda]", "torch; python_version>'3'",
                                   "torch@http://x.test/t.whl", "to rch", ""])
def test_malformed_queries_are_refused(query: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_package_query(query)
    assert "--package" in str(caught.value)
    assert "\n" not in str(caught.value)
