"""The MCC table: every country the integration must place a network in, and no stray codes."""

from __future__ import annotations

import pytest

from custom_components.wgtwo.client import Country
from custom_components.wgtwo.countries import normalize_country_code
from custom_components.wgtwo.mcc import MCC_COUNTRIES, country_of_mcc

# The countries that must be covered, with their MCCs (ITU-T E.212), written out here
# independently of the table.
EU: dict[str, set[str]] = {
    "AT": {"232"},
    "BE": {"206"},
    "BG": {"284"},
    "HR": {"219"},
    "CY": {"280"},
    "CZ": {"230"},
    "DK": {"238"},
    "EE": {"248"},
    "FI": {"244"},
    "FR": {"208"},
    "DE": {"262"},
    "GR": {"202"},
    "HU": {"216"},
    "IE": {"272"},
    "IT": {"222"},
    "LV": {"247"},
    "LT": {"246"},
    "LU": {"270"},
    "MT": {"278"},
    "NL": {"204"},
    "PL": {"260"},
    "PT": {"268"},
    "RO": {"226"},
    "SK": {"231"},
    "SI": {"293"},
    "ES": {"214"},
    "SE": {"240"},
}
EEA_OUTSIDE_EU: dict[str, set[str]] = {"IS": {"274"}, "LI": {"295"}, "NO": {"242"}}
OTHERS: dict[str, set[str]] = {
    "US": {"310", "311", "312", "313", "314", "315", "316"},
    "CA": {"302"},
    "GB": {"234", "235"},
    "CH": {"228"},
    "JP": {"440", "441"},
    "AU": {"505"},
}
REQUIRED = EU | EEA_OUTSIDE_EU | OTHERS


def test_the_eu_has_27_members_and_the_eea_30() -> None:
    assert len(EU) == 27
    assert len(EU | EEA_OUTSIDE_EU) == 30


@pytest.mark.parametrize("country", sorted(REQUIRED))
def test_every_required_country_is_placed_by_each_of_its_codes(country: str) -> None:
    table = {mcc for mcc, (code, _name) in MCC_COUNTRIES.items() if code == country}
    assert table == REQUIRED[country]
    for mcc in REQUIRED[country]:
        found = country_of_mcc(mcc)
        assert found is not None
        assert found.code == country
        assert found.name


def test_names_of_a_few_countries() -> None:
    assert country_of_mcc("242") == Country(code="NO", name="Norway")
    assert country_of_mcc(" 240 ") == Country(code="SE", name="Sweden")
    assert country_of_mcc("234") == Country(code="GB", name="United Kingdom")
    assert country_of_mcc("311") == Country(code="US", name="United States")


@pytest.mark.parametrize("mcc", [None, "", "901", "340", "999", "24", "2420", "abc"])
def test_codes_that_name_no_country(mcc: str | None) -> None:
    assert country_of_mcc(mcc) is None


def test_the_table_is_well_formed() -> None:
    for mcc, (code, name) in MCC_COUNTRIES.items():
        assert len(mcc) == 3
        assert mcc.isdigit()
        assert mcc[0] in "234567"  # E.212 geographic zones
        assert len(code) == 2
        assert code.isalpha()
        assert code.isupper()
        assert normalize_country_code(code) == code
        assert name
        assert name.strip() == name
    # One name per country, however many codes it has.
    names: dict[str, set[str]] = {}
    for code, name in MCC_COUNTRIES.values():
        names.setdefault(code, set()).add(name)
    assert all(len(found) == 1 for found in names.values())
