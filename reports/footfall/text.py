"""The report in words: the summary paragraph at the top, and numbers and dates as German or English readers
write them (``1.234 Passanten``, ``Sa., 22.11.2026``; ``1,234 passers-by``, ``Sat 22 Nov 2026``), by Babel.
"""

from __future__ import annotations

from datetime import date, datetime

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal

from reports.footfall.data import Anomaly, DayRow, WeekReport, change

LANGS = ("de", "en")
LOCALES = {"de": "de_DE", "en": "en_GB"}
NBSP = "\u00a0"

WORDS: dict[str, dict[str, str]] = {
    "de": {
        "title": "Passantenfrequenz", "subtitle": "Wochenbericht", "week": "Kalenderwoche", "period": "Zeitraum",
        "summary": "Zusammenfassung", "day": "Tag", "people": "Passanten", "total": "Summe",
        "previous": "Vorwoche", "last_year": "Vorjahr", "change": "Veränderung", "peak": "Spitzenstunde",
        "notes": "Feiertage und Ereignisse", "sites": "Passanten je Tag und Standort",
        "days": "Passanten je Tag", "heatmap": "Passanten je Stunde und Wochentag",
        "locations": "Anteil je Zählstelle", "location": "Zählstelle", "share": "Anteil",
        "directions": "Richtungen", "inbound": "hinein", "outbound": "hinaus", "site": "Standort",
        "normal": "Normalniveau", "normal_text": "Mittel je Stunde in den Öffnungszeiten (Mo.–Sa.)",
        "completeness": "Vollständigkeit der Daten", "gaps": "Stunden mit Lücken", "from": "von", "to": "bis",
        "estimated": "geschätzt", "missing": "fehlt", "anomalies": "Auffälligkeiten der Woche",
        "none": "keine", "method": "Quelle und Methode", "page": "Seite", "of": "von", "hour": "Uhr",
        "this_week": "diese Woche", "estimated_mark": "enthält geschätzte Stunden",
        "incomplete_mark": "Vergleichstag unvollständig", "weekday": "Wochentag", "counted": "gezählt",
        "generated": "Erstellt", "per_hour": "Passanten je Stunde", "kind": "Art",
    },
    "en": {
        "title": "Footfall", "subtitle": "Weekly report", "week": "Week", "period": "Period",
        "summary": "Summary", "day": "Day", "people": "passers-by", "total": "Total",
        "previous": "Week before", "last_year": "Last year", "change": "Change", "peak": "Peak hour",
        "notes": "Holidays and events", "sites": "Passers-by per day and site",
        "days": "Passers-by per day", "heatmap": "Passers-by per hour and weekday",
        "locations": "Share per counting location", "location": "Counting location", "share": "Share",
        "directions": "Directions", "inbound": "in", "outbound": "out", "site": "Site",
        "normal": "Normal level", "normal_text": "mean per hour in opening hours (Mon–Sat)",
        "completeness": "Data completeness", "gaps": "Hours with gaps", "from": "from", "to": "to",
        "estimated": "estimated", "missing": "missing", "anomalies": "Anomalies of the week",
        "none": "none", "method": "Source and method", "page": "Page", "of": "of", "hour": "h",
        "this_week": "this week", "estimated_mark": "includes estimated hours",
        "incomplete_mark": "day compared with was incomplete", "weekday": "Weekday", "counted": "counted",
        "generated": "Generated", "per_hour": "passers-by per hour", "kind": "Kind",
    },
}


def check_lang(lang: str) -> str:
    """``lang`` if it is one of :data:`LANGS`.

    Raises:
        ValueError: another language.
    """
    if lang not in LANGS:
        raise ValueError(f"language must be one of {', '.join(LANGS)}, got {lang!r}")
    return lang


def number(value: float, lang: str) -> str:
    """A whole number with the language's grouping: 1.234 (de), 1,234 (en)."""
    return format_decimal(round(value), format="#,##0", locale=LOCALES[check_lang(lang)])


def decimal(value: float, lang: str, digits: int = 1) -> str:
    """A number with ``digits`` decimals: 98,5 (de), 98.5 (en)."""
    return format_decimal(value, format="#,##0." + "0" * digits, locale=LOCALES[check_lang(lang)])


def percent(value: float | None, lang: str, *, signed: bool = True) -> str:
    """A change in per cent, rounded: ``+6 %``, ``−3 %``, ``–`` when unknown."""
    if value is None:
        return "–"
    rounded = round(value)
    sign = "+" if rounded > 0 and signed else ("−" if rounded < 0 else "")
    return f"{sign}{number(abs(rounded), lang)}{NBSP}%"


def day_short(day: date, lang: str) -> str:
    """``Sa., 22.11.2026`` (de) or ``Sat 22 Nov 2026`` (en)."""
    pattern = "EEE, dd.MM.yyyy" if lang == "de" else "EEE d MMM yyyy"
    return format_date(day, pattern, locale=LOCALES[check_lang(lang)])


def weekday(day: date, lang: str, *, short: bool = False) -> str:
    """``Samstag`` / ``Saturday`` (``Sa.`` / ``Sat`` when short)."""
    return format_date(day, "EEE" if short else "EEEE", locale=LOCALES[check_lang(lang)])


def moment(when: datetime, lang: str) -> str:
    """A local time: ``22.11.2026, 14:00`` (de) or ``22 Nov 2026, 14:00`` (en)."""
    pattern = "dd.MM.yyyy, HH:mm" if lang == "de" else "d MMM yyyy, HH:mm"
    return format_datetime(when, pattern, tzinfo=when.tzinfo, locale=LOCALES[check_lang(lang)])


# the anomaly detectors' kinds (processing/detect.py, processing/anomaly_job.py) in plain words
KINDS: dict[str, tuple[str, str]] = {
    "gap": ("keine Daten", "no data"),
    "seasonal": ("ungewöhnlich für Wochentag und Uhrzeit", "unusual for the weekday and hour"),
    "spike": ("Ausreißer", "spike"),
    "stuck": ("Wert hängt", "value stuck"),
    "drift": ("Drift", "drift"),
    "out_of_range": ("Wert außerhalb des Messbereichs", "value out of range"),
    "impossible": ("unmöglicher Wert", "impossible value"),
    "restart": ("Zähler neu gestartet", "counter restarted"),
    "packet_loss": ("Funkpakete verloren", "radio packets lost"),
}


def kind(name: str, lang: str) -> str:
    """An anomaly kind in plain words; an unknown kind as it is."""
    words = KINDS.get(name)
    return name if words is None else words[0 if check_lang(lang) == "de" else 1]


def span(anomaly: Anomaly, lang: str) -> str:
    """When an anomaly was, short: ``Mi., 18.11., 10:22–15:32`` on one day, else both moments in full."""
    start, end = anomaly.start, anomaly.end
    if start.date() != end.date():
        return f"{moment(start, lang)} – {moment(end, lang)}"
    day = format_date(start, "EEE, dd.MM." if lang == "de" else "EEE d MMM", locale=LOCALES[check_lang(lang)])
    first, last = start.strftime("%H:%M"), end.strftime("%H:%M")
    return f"{day}, {first}" if first == last else f"{day}, {first}–{last}"


def hour_span(hour: int | None, lang: str) -> str:
    """``14–15 Uhr`` / ``14–15 h``."""
    if hour is None:
        return "–"
    return f"{hour}–{hour + 1}{NBSP}{WORDS[lang]['hour']}"


def period(report: WeekReport, lang: str) -> str:
    """``Mo., 16.11.2026 – So., 22.11.2026``."""
    return f"{day_short(report.week.days[0], lang)} – {day_short(report.week.days[6], lang)}"


def summary(report: WeekReport, lang: str) -> str:
    """The one paragraph at the top of the report, in plain words."""
    check_lang(lang)
    if report.total <= 0:
        return _nothing(report, lang)
    parts = [_week_sentence(report, lang), _busiest_sentence(report, lang), _normal_sentence(report, lang)]
    parts += [_notes_sentence(report, lang), _completeness_sentence(report, lang)]
    return " ".join(p for p in parts if p)


def _nothing(report: WeekReport, lang: str) -> str:
    if lang == "de":
        return f"Für die Woche {report.week} liegen für {report.town} keine Zählwerte vor."
    return f"There are no counts for {report.town} in week {report.week}."


def _comparison(value: float | None, lang: str, what: str) -> str:
    if value is None:
        return ""
    if round(value) == 0:
        return {"de": f"so viele wie {what}", "en": f"as many as {what}"}[lang]
    more = value > 0
    amount = percent(abs(value), lang, signed=False)
    if lang == "de":
        return f"{amount} {'mehr' if more else 'weniger'} als {what}"
    return f"{amount} {'more' if more else 'fewer'} than {what}"


def _join(items: list[str], lang: str) -> str:
    items = [i for i in items if i]
    if len(items) < 2:
        return "".join(items)
    return f"{', '.join(items[:-1])} {'und' if lang == 'de' else 'and'} {items[-1]}"


def _week_sentence(report: WeekReport, lang: str) -> str:
    people = f"{number(report.total, lang)} {WORDS[lang]['people']}"
    where = "in der Vorwoche" if lang == "de" else "the week before"
    year = "in derselben Woche des Vorjahres" if lang == "de" else "the same week last year"
    comparisons = _join([_comparison(change(report.total, report.previous_total), lang, where),
                         _comparison(change(report.total, report.last_year_total), lang, year)], lang)
    tail = f", {comparisons}" if comparisons else ""
    if lang == "de":
        return f"In der Woche {report.week} ({period(report, lang)}) zählte {report.town} {people}{tail}."
    return f"In week {report.week} ({period(report, lang)}) {report.town} counted {people}{tail}."


def _busiest_sentence(report: WeekReport, lang: str) -> str:
    best: DayRow = max(report.days, key=lambda d: d.total)
    name = weekday(best.day, lang)
    people = f"{number(best.total, lang)} {WORDS[lang]['people']}"
    if best.change_last_year is not None:
        what = f"am selben {name} des Vorjahres" if lang == "de" else f"the same {name} last year"
        compared = _comparison(best.change_last_year, lang, what)
    else:
        what = f"am {name} der Vorwoche" if lang == "de" else f"the {name} before"
        compared = _comparison(best.change_previous, lang, what)
    peak = hour_span(best.peak_hour, lang)
    if lang == "de":
        text = f"{name} war der stärkste Tag mit {people}"
        text += f", {compared}" if compared else ""
        return text + f"; die meisten Passanten kamen zwischen {peak.replace('–', ' und ', 1)}."
    text = f"{name} was the busiest day with {people}"
    text += f", {compared}" if compared else ""
    return text + f"; the busiest hour was {peak}."


def _normal_sentence(report: WeekReport, lang: str) -> str:
    level = report.normal_level
    if level.mean is None:
        return ""
    opening = f"{level.opening[0]}–{level.opening[1]}{NBSP}{WORDS[lang]['hour']}"
    mean = number(level.mean, lang)
    compared = _comparison(change(level.mean, level.previous), lang,
                           "in der Vorwoche" if lang == "de" else "the week before")
    if lang == "de":
        text = f"In den Öffnungszeiten ({opening}, Mo.–Sa.) lag das Normalniveau bei {mean} Passanten je Stunde"
    else:
        text = f"In opening hours ({opening}, Mon–Sat) the normal level was {mean} passers-by per hour"
    return text + (f", {compared}." if compared else ".")


def _notes_sentence(report: WeekReport, lang: str) -> str:
    named = [f"{note.name(lang)} ({weekday(d.day, lang, short=True)})" for d in report.days for note in d.notes
             if note.kind in ("holiday", "event")]
    if not named:
        return ""
    prefix = "Feiertage und Ereignisse der Woche" if lang == "de" else "Holidays and events of the week"
    return f"{prefix}: {', '.join(named)}."


def _completeness_sentence(report: WeekReport, lang: str) -> str:
    share = decimal(report.completeness, lang)
    missing = report.expected_hours - report.counted_hours - report.estimated_hours
    if lang == "de":
        text = f"Gezählt wurden {share}{NBSP}% der Zählstunden"
        if report.estimated_hours:
            text += f"; {number(report.estimated_hours, lang)} Stunden sind aus der Vorwoche geschätzt und markiert"
        if missing:
            text += f"; {number(missing, lang)} Stunden fehlen"
        return text + "."
    text = f"{share}{NBSP}% of the counting hours were counted"
    if report.estimated_hours:
        text += f"; {number(report.estimated_hours, lang)} hours are estimated from the week before and marked"
    if missing:
        text += f"; {number(missing, lang)} hours are missing"
    return text + "."
