"""De-identification on ingest: which identifying fields exist, and age from dates.

Readers keep exactly two demographic facts — age in whole years (capped at 90 by
:func:`models.ecg.record.normalise_age`) and sex — and drop everything else that could identify
a patient. What they drop is reported by *name* (an :class:`IdentifyingField` value), never by
value, so the report itself can be logged and stored.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from enum import StrEnum

from models.ecg.record import Sex, normalise_age, normalise_sex


class IdentifyingField(StrEnum):
    """The kinds of identifying information a reader may find and drop."""

    PATIENT_NAME = "patient_name"
    PATIENT_ID = "patient_id"
    BIRTH_DATE = "birth_date"
    COMMENTS = "comments"
    DEVICE_SERIAL = "device_serial"
    INSTITUTION = "institution"
    OPERATOR_NAME = "operator_name"
    ACQUISITION_DATE = "acquisition_date"
    RECORD_NAME = "record_name"
    ORDER_NUMBER = "order_number"


def removed_field_names(found: Iterable[IdentifyingField]) -> tuple[str, ...]:
    """The sorted, de-duplicated names of the identifying fields found in an input."""
    return tuple(sorted({str(field) for field in found}))


def parse_date(text: str | None, formats: Sequence[str]) -> dt.date | None:
    """The first of ``formats`` (``strptime`` patterns) that parses ``text``, else ``None``.

    Example:
        >>> parse_date("01-01-1980", ["%m-%d-%Y"]), parse_date("n/a", ["%Y%m%d"])
        (datetime.date(1980, 1, 1), None)
    """
    if not text:
        return None
    value = text.strip()
    for date_format in formats:
        try:
            return dt.datetime.strptime(value, date_format).date()
        except ValueError:
            continue
    return None


def age_from_dates(birth_date: dt.date | None, at_date: dt.date | None) -> int | None:
    """Age in completed years on ``at_date`` (the acquisition date), capped at 90.

    ``None`` when either date is unknown or the birth date lies after the acquisition date.

    Example:
        >>> age_from_dates(dt.date(1950, 1, 1), dt.date(2010, 1, 19))
        60
    """
    if birth_date is None or at_date is None or birth_date > at_date:
        return None
    years = at_date.year - birth_date.year
    if (at_date.month, at_date.day) < (birth_date.month, birth_date.day):
        years -= 1
    return normalise_age(years)


def resolve_age(
    stated_age: str | float | None, birth_date: dt.date | None, at_date: dt.date | None
) -> int | None:
    """The stated age when it is usable, else the age computed from birth and acquisition dates."""
    age = normalise_age(stated_age)
    return age if age is not None else age_from_dates(birth_date, at_date)


# "#<age>: 51" (LUDB), "# Age: 57" (Challenge 2021), "# age: 81" (PTB).
_AGE_COMMENT = re.compile(r"#\s*<?\s*age\s*>?\s*:\s*(?P<value>\S+)", re.IGNORECASE)
_SEX_COMMENT = re.compile(r"#\s*<?\s*(?:sex|gender)\s*>?\s*:\s*(?P<value>\S+)", re.IGNORECASE)
# European ST-T / QTDB "sele" records: both on one line, "#Age: 47  Sex: M".
_AGE_AND_SEX_COMMENT = re.compile(
    r"#\s*age\s*:\s*(?P<age>\S+)\s+(?:sex|gender)\s*:\s*(?P<sex>\S+)", re.IGNORECASE)
# MIT-BIH / QTDB: a comment line starts with age and sex, "# 69 M 1085 1629 x1".
_MIT_AGE_SEX_COMMENT = re.compile(r"#\s*(?P<age>-?\d{1,3})\s+(?P<sex>[MF])\b")


def demographics_from_comments(
    comment_lines: Sequence[str],
) -> tuple[int | None, Sex | None, bool]:
    """Age and sex from WFDB header comment lines, and whether any other comment text existed.

    Understands the LUDB (``#<age>: 51``), Challenge 2021 (``# Age: 57``, ``# Sex: Male``), PTB
    (``# age: 81``) and MIT-BIH/QTDB (a line starting ``# 69 M …``; age ``-1`` means unknown)
    conventions, and the European ST-T one-line ``#Age: 47  Sex: M``; explicit ``age:``/``sex:`` lines win over the MIT-BIH line. Every other comment
    is free text that may identify the patient: the caller drops it and reports
    :attr:`IdentifyingField.COMMENTS` when the third value is true.

    Example:
        >>> demographics_from_comments(["#<age>: 51", "#<sex>: F", "#Rhythm: Sinus rhythm."])
        (51, 'female', True)
        >>> demographics_from_comments(["#Age: 47  Sex: M"])
        (47, 'male', False)
    """
    age_text: str | None = None
    sex_text: str | None = None
    mit_age_sex: tuple[str, str] | None = None
    has_free_text = False
    for line in comment_lines:
        text = line.strip()
        if both_match := _AGE_AND_SEX_COMMENT.fullmatch(text):
            age_text, sex_text = both_match["age"], both_match["sex"]
        elif age_match := _AGE_COMMENT.fullmatch(text):
            age_text = age_match["value"]
        elif sex_match := _SEX_COMMENT.fullmatch(text):
            sex_text = sex_match["value"]
        elif mit_age_sex is None and (mit_match := _MIT_AGE_SEX_COMMENT.match(text)):
            mit_age_sex = (mit_match["age"], mit_match["sex"])
            has_free_text = has_free_text or text[mit_match.end() :].strip() != ""
        elif text.lstrip("#").strip():
            has_free_text = True
    if mit_age_sex is not None:
        age_text = mit_age_sex[0] if age_text is None else age_text
        sex_text = mit_age_sex[1] if sex_text is None else sex_text
    return normalise_age(age_text), normalise_sex(sex_text), has_free_text
