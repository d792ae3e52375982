"""Home country of a subscriber, derived from the country calling code of its number.

Used for the `roaming` binary sensor when the user did not set a home country in the
options. The table covers the Nordic countries, the EU/EEA, the UK, Switzerland and the
North American Numbering Plan (``+1`` is treated as the US; set the home country in the
options for Canada or the Caribbean). Numbers from other countries give no default, so
`roaming` stays unknown until a home country is configured.
"""

from __future__ import annotations

from typing import Final

# Country calling code (without "+") -> ISO 3166-1 alpha-2.
CALLING_CODES: Final[dict[str, str]] = {
    "1": "US",
    "7": "RU",
    "20": "EG",
    "27": "ZA",
    "30": "GR",
    "31": "NL",
    "32": "BE",
    "33": "FR",
    "34": "ES",
    "36": "HU",
    "39": "IT",
    "40": "RO",
    "41": "CH",
    "43": "AT",
    "44": "GB",
    "45": "DK",
    "46": "SE",
    "47": "NO",
    "48": "PL",
    "49": "DE",
    "52": "MX",
    "55": "BR",
    "61": "AU",
    "64": "NZ",
    "81": "JP",
    "82": "KR",
    "86": "CN",
    "90": "TR",
    "91": "IN",
    "351": "PT",
    "352": "LU",
    "353": "IE",
    "354": "IS",
    "356": "MT",
    "357": "CY",
    "358": "FI",
    "359": "BG",
    "370": "LT",
    "371": "LV",
    "372": "EE",
    "380": "UA",
    "385": "HR",
    "386": "SI",
    "420": "CZ",
    "421": "SK",
    "423": "LI",
    "298": "FO",
    "299": "GL",
}

# ISO 3166-1 alpha-3 -> alpha-2 for the countries above, in case the network reports
# alpha-3 codes.
_ALPHA3: Final[dict[str, str]] = {
    "USA": "US",
    "RUS": "RU",
    "EGY": "EG",
    "ZAF": "ZA",
    "GRC": "GR",
    "NLD": "NL",
    "BEL": "BE",
    "FRA": "FR",
    "ESP": "ES",
    "HUN": "HU",
    "ITA": "IT",
    "ROU": "RO",
    "CHE": "CH",
    "AUT": "AT",
    "GBR": "GB",
    "DNK": "DK",
    "SWE": "SE",
    "NOR": "NO",
    "POL": "PL",
    "DEU": "DE",
    "MEX": "MX",
    "BRA": "BR",
    "AUS": "AU",
    "NZL": "NZ",
    "JPN": "JP",
    "KOR": "KR",
    "CHN": "CN",
    "TUR": "TR",
    "IND": "IN",
    "PRT": "PT",
    "LUX": "LU",
    "IRL": "IE",
    "ISL": "IS",
    "MLT": "MT",
    "CYP": "CY",
    "FIN": "FI",
    "BGR": "BG",
    "LTU": "LT",
    "LVA": "LV",
    "EST": "EE",
    "UKR": "UA",
    "HRV": "HR",
    "SVN": "SI",
    "CZE": "CZ",
    "SVK": "SK",
    "LIE": "LI",
    "FRO": "FO",
    "GRL": "GL",
    "CAN": "CA",
}

_MAX_CODE_LENGTH: Final = 3
# Alpha-2 -> calling code, for the countries above; Canada shares the US's +1.
_CODES_BY_COUNTRY: Final[dict[str, str]] = {
    country: code for code, country in CALLING_CODES.items()
} | {"CA": "1"}


def calling_code(country: str | None) -> str | None:
    """Return the calling code (without "+") of an alpha-2 country, or None when unknown."""
    return _CODES_BY_COUNTRY.get(country or "")


def country_from_number(number: str) -> str | None:
    """Return the ISO alpha-2 country of an E.164 number, or None when not in the table."""
    digits = number.removeprefix("+")
    for length in range(1, _MAX_CODE_LENGTH + 1):
        if country := CALLING_CODES.get(digits[:length]):
            return country
    return None


def normalize_country_code(code: str | None) -> str | None:
    """Return an upper-case alpha-2 code for an alpha-2 or known alpha-3 code."""
    if not code:
        return None
    code = code.strip().upper()
    return _ALPHA3.get(code, code)
