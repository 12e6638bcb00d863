"""The day board and the week board: what staff see of one location's schedule.

A read model on top of ``scheduling.selectors``: it fetches a day's (or a week's)
appointments in one query and arranges them for the page; it decides nothing.

- ``cards``: one appointment as a card, with the moves it offers, and a patient's list;
- ``day``: the locations and local days, and the day's grid of chairs and half hours;
- ``week``: the week.
"""
