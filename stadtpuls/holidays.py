"""German public holidays: Easter and the fixed days of every state, for the simulator and the reports alike."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

STATES = frozenset(["BW", "BY", "BE", "BB", "HB", "HH", "HE", "MV", "NI", "NW", "RP", "SL", "SN", "ST", "SH", "TH"])

# public holidays of every state: (month, day) or days after Easter Sunday, German and English name
_FIXED = {(1, 1): ("Neujahr", "New Year's Day"), (5, 1): ("Tag der Arbeit", "Labour Day"),
          (10, 3): ("Tag der Deutschen Einheit", "German Unity Day"),
          (12, 25): ("1. Weihnachtstag", "Christmas Day"), (12, 26): ("2. Weihnachtstag", "Boxing Day")}
_EASTER = {-2: ("Karfreitag", "Good Friday"), 1: ("Ostermontag", "Easter Monday"),
           39: ("Christi Himmelfahrt", "Ascension Day"), 50: ("Pfingstmontag", "Whit Monday")}
_STATE_FIXED = {
    (1, 6): ("Heilige Drei Könige", "Epiphany", {"BW", "BY", "ST"}),
    (3, 8): ("Internationaler Frauentag", "International Women's Day", {"BE", "MV"}),
    (8, 15): ("Mariä Himmelfahrt", "Assumption Day", {"SL"}),
    (9, 20): ("Weltkindertag", "World Children's Day", {"TH"}),
    (10, 31): ("Reformationstag", "Reformation Day", {"BB", "HB", "HH", "MV", "NI", "SN", "ST", "SH", "TH"}),
    (11, 1): ("Allerheiligen", "All Saints' Day", {"BW", "BY", "NW", "RP", "SL"}),
}
_CORPUS_CHRISTI = {"BW", "BY", "HE", "NW", "RP", "SL"}


def easter_sunday(year: int) -> date:
    """Easter Sunday of the Gregorian calendar (the anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month, day = divmod(h + m - 7 * n + 114, 31)
    return date(year, month, day + 1)


@lru_cache(maxsize=64)
def public_holidays(year: int, state: str) -> dict[date, tuple[str, str]]:
    """German public holidays of ``year`` in ``state`` (two-letter code): date → (German, English name)."""
    sunday = easter_sunday(year)
    days = {date(year, m, d): names for (m, d), names in _FIXED.items()}
    days.update({sunday + timedelta(days=off): names for off, names in _EASTER.items()})
    if state in _CORPUS_CHRISTI:
        days[sunday + timedelta(days=60)] = ("Fronleichnam", "Corpus Christi")
    for (m, d), (de, en, states) in _STATE_FIXED.items():
        if state in states:
            days[date(year, m, d)] = (de, en)
    if state == "SN":  # Buß- und Bettag: the Wednesday before 23 November
        day = date(year, 11, 22)
        days[day - timedelta(days=(day.weekday() - 2) % 7)] = ("Buß- und Bettag", "Day of Repentance")
    return days
