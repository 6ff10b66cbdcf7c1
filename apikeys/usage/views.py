"""The usage page of a workspace and its CSV export (permission: usage.view)."""

from __future__ import annotations

import csv

from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_GET

from accounts.paging import page_without_count
from accounts.permissions import Perm
from accounts.views.workspaces import workspace_page
from apikeys.usage import selectors as usage_selectors
from apikeys.usage.forms import UsageFilterForm

CSV_COLUMNS = (
    "day",
    "key_id",
    "key_name",
    "model",
    "requests",
    "input_tokens",
    "output_tokens",
    "errors",
    "flagged",
    "blocked",
)
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Keys per page of the per-key table (by name; the key filter reads one key's figures).
KEYS_PAGE_SIZE = 25


def _csv_cell(value) -> str:
    # Spreadsheets evaluate cells that look like formulas; key names are user input.
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_PREFIXES) else text


@require_GET
@workspace_page(Perm.USAGE_VIEW)
def usage_dashboard(request, workspace):
    # Every filter is optional, so a bare URL is a valid form: the default range.
    form = UsageFilterForm(request.GET, workspace=workspace)
    query = form.query()
    context = {"workspace": workspace, "form": form, "query": query}
    if query is None:
        return render(request, "apikeys/usage_dashboard.html", context, status=400)
    by_day, by_model = usage_selectors.usage_by_day_and_model(workspace=workspace, query=query)
    keys_page = page_without_count(
        usage_selectors.usage_keys_for_range(workspace=workspace, query=query),
        request.GET.get("page"),
        KEYS_PAGE_SIZE,
    )
    by_key = usage_selectors.usage_by_key(
        workspace=workspace, query=query, keys=keys_page.object_list
    )
    filters = request.GET.copy()
    filters.pop("page", None)
    csv_url = reverse("usage_csv", kwargs={"workspace_id": workspace.pk})
    if filters:
        csv_url += "?" + filters.urlencode()
    key_filter = request.GET.copy()
    key_filter.pop("page", None)
    key_filter.pop("key", None)
    context.update(
        {
            "by_day": by_day,
            "by_key": by_key,
            "keys_page": keys_page,
            "page_query": filters.urlencode(),
            "key_filter_query": key_filter.urlencode(),
            "by_model": by_model,
            "totals": usage_selectors.usage_totals(by_day),
            "csv_url": csv_url,
            "chart_data": {
                "days": usage_selectors.usage_chart_data(by_day),
                "keys": [
                    {"label": f"{row['key_name']} ({row['key_id']})", **_metrics(row)}
                    for row in by_key
                ],
                "models": [{"label": row["model"], **_metrics(row)} for row in by_model],
            },
        }
    )
    context.update(_tables(context))
    return render(request, "apikeys/usage_dashboard.html", context)


def _n(value: int) -> str:
    # What `intcomma` writes in en-us, without a locale lookup per figure.
    return f"{value:,}"


_DAY_ROW = (
    '<tr><th scope="row">{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>'
    "<td>{}</td></tr>\n"
)
_KEY_ROW = (
    '<tr><th scope="row"><a href="?{}key={}">{}</a> <code>{}</code>{}</th><td>{}</td>'
    "<td>{}</td><td>{}</td><td>{}</td></tr>\n"
)
_MODEL_ROW = (
    '<tr><th scope="row"><code>{}</code></th><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n'
)
_DELETED_BADGE = format_html(' <span class="badge">{}</span>', "deleted")


def _tables(context: dict) -> dict:
    """Return the figures of the page as text and its table bodies as HTML.

    About 300 figures: through `intcomma` and a template loop per table they cost more
    than the queries that read them.
    """
    totals = context["totals"]
    key_prefix = context["key_filter_query"] + "&" if context["key_filter_query"] else ""
    return {
        "totals_text": {metric: _n(value) for metric, value in totals.items()},
        "day_rows": format_html_join(
            "",
            _DAY_ROW,
            (
                (
                    row["day"].isoformat(),
                    *(_n(row[metric]) for metric in _DAY_COLUMNS),
                )
                for row in context["by_day"]
            ),
        ),
        "key_rows": format_html_join(
            "",
            _KEY_ROW,
            (
                (
                    key_prefix,
                    row["key_id"],
                    row["key_name"],
                    row["key_id"],
                    _DELETED_BADGE if row["key_deleted"] else "",
                    *_summary(row),
                )
                for row in context["by_key"]
            ),
        ),
        "model_rows": format_html_join(
            "", _MODEL_ROW, ((row["model"], *_summary(row)) for row in context["by_model"])
        ),
    }


_DAY_COLUMNS = ("requests", "input_tokens", "output_tokens", "errors", "flagged", "blocked")


def _summary(row: dict) -> tuple[str, str, str, str]:
    return (
        _n(row["requests"]),
        _n(row["input_tokens"] + row["output_tokens"]),
        _n(row["flagged"]),
        _n(row["blocked"]),
    )


def _metrics(row: dict) -> dict:
    return {metric: row[metric] for metric in usage_selectors.METRICS}


class _Echo:
    def write(self, value):
        return value


@require_GET
@workspace_page(Perm.USAGE_VIEW)
def usage_csv(request, workspace):
    form = UsageFilterForm(request.GET, workspace=workspace)
    query = form.query()
    if query is None:
        errors = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in form.errors.items())
        return HttpResponse(
            f"Invalid filters. {errors}", status=400, content_type="text/plain; charset=utf-8"
        )
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(CSV_COLUMNS)
        for row in usage_selectors.usage_detail_rows(workspace=workspace, query=query):
            yield writer.writerow([_csv_cell(row[column]) for column in CSV_COLUMNS])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    filename = f"usage-{workspace.pk}-{query.start.isoformat()}-{query.end.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
