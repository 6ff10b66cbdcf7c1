"""Pages of a list without counting the whole list.

Django's Paginator counts every matching row to print "page 3 of N"; on a table that
grows (audit events, keys) that count is the one cost of a page that grows with it.
`page_without_count` reads one row more than a page holds to know whether another page
follows, so a page costs the same with ten rows or a hundred thousand.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_PAGE_NUMBER = 1_000_000


@dataclass(frozen=True)
class UncountedPage:
    """The methods of Django's Page that need no count, under the same names."""

    object_list: list
    number: int
    more: bool

    def has_next(self) -> bool:
        return self.more

    def has_previous(self) -> bool:
        return self.number > 1

    def has_other_pages(self) -> bool:
        return self.has_previous() or self.has_next()

    def previous_page_number(self) -> int:
        return self.number - 1

    def next_page_number(self) -> int:
        return self.number + 1

    def __iter__(self):
        return iter(self.object_list)

    def __len__(self) -> int:
        return len(self.object_list)


def page_number(raw) -> int:
    """The page asked for; the first page for anything that is not a page number."""
    text = str(raw or "")
    if text.isascii() and text.isdigit() and len(text) < 8:
        return min(max(int(text), 1), MAX_PAGE_NUMBER)
    return 1


def page_without_count(queryset, raw_number, per_page: int) -> UncountedPage:
    """Return page `raw_number` (as given in the query string) of an ordered queryset.

    A page past the last one is empty, with a link back.
    """
    number = page_number(raw_number)
    offset = (number - 1) * per_page
    rows = list(queryset[offset : offset + per_page + 1])
    return UncountedPage(object_list=rows[:per_page], number=number, more=len(rows) > per_page)
