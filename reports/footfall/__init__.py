"""The weekly footfall report for the inner-city management.

``weeks`` does the ISO-week and local-day arithmetic, ``calendar`` names holidays and events, ``query`` is the one
module that reads InfluxDB, ``data`` gathers one week into a :class:`~reports.footfall.data.WeekReport`, ``text``
words it, ``plots`` draws it, ``render`` makes HTML and PDF of it and ``schedule`` writes and mails it each week.
"""
