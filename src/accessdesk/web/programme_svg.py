"""A programme's two pictures, drawn on the server as SVG: the grant windows on a timeline against the planned
release, and the tokens issued per day per grant. Pure functions from the read model (domain.programme) to markup.

The console's Content Security Policy allows no inline style and no script: colours and type are presentation
attributes (``fill=``, ``font-size=``), never ``style=``. Every text is escaped. Colour never says anything alone:
each bar carries its state in words and a legend names every colour; each picture has a ``<title>`` and a ``<desc>``
and the page puts the same numbers in a table below it (:func:`token_table`, :func:`timeline_groups`), which is
what a screen reader reads.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from markupsafe import Markup, escape

from accessdesk.domain.programme import ProgrammeOverview, Window
from accessdesk.domain.vocabulary import GrantState, OrgKind

WIDTH = 920
LABELS = 200  # the column of organisation names, left of the bars
LEFT, RIGHT = LABELS + 10, WIDTH - 20
INK, MUTED, LINE, ACCENT = "#1d2330", "#5b6474", "#d8dce4", "#1f4fbf"
FONT = 'font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12"'
# Each state's colour; white text on each reads at a contrast of at least 4.5:1.
STATE_FILL = {
    GrantState.ACTIVE: "#2e7d32",
    GrantState.SCHEDULED: "#1565c0",
    GrantState.BLOCKED: "#c62828",
    GrantState.SUSPENDED: "#a04a00",
    GrantState.EXPIRED: "#5f6670",
    GrantState.REVOKED: "#4a148c",
}
# Okabe and Ito's palette, told apart with any colour vision; the last is "other grants".
SERIES_FILL = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#8c7a00")
OTHERS_FILL = "#999999"
TOP_SERIES = len(SERIES_FILL)
GOVERNMENT, NO_COHORT = "Government", "Not in a cohort"


def _text(x: float, y: float, words: object, *, anchor: str = "start", fill: str = INK, extra: str = "") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}"{extra}>'
            f"{escape(str(words))}</text>")  # fmt: skip


def _short(name: str, most: int = 30) -> str:
    return name if len(name) <= most else name[: most - 1] + "…"


def _day(on: date | datetime) -> str:
    return f"{on.day} {on:%b}"


def _iso_day(on: date | datetime) -> str:
    return f"{on:%Y-%m-%d}"


def _svg(name: str, height: float, title: str, desc: str, body: Iterable[str]) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {WIDTH} {height:.0f}" '
        f'width="{WIDTH}" height="{height:.0f}" aria-labelledby="{name}-title {name}-desc" {FONT}>'
        f'<title id="{name}-title">{escape(title)}</title><desc id="{name}-desc">{escape(desc)}</desc>'
        + "".join(body) + "</svg>"
    )  # fmt: skip


def _ticks(first: date, last: date, most: int = 8) -> list[date]:
    """Dates to label along an axis from ``first`` to ``last``: at most ``most``, a round number of days apart."""
    span = max((last - first).days, 1)
    step = next((s for s in (1, 2, 7, 14, 28, 56, 91, 182, 364) if span / s <= most), 364)
    return [first + timedelta(days=n) for n in range(0, span + 1, step)]


# -- the timeline -----------------------------------------------------------------------------------------------


def timeline_groups(overview: ProgrammeOverview) -> list[tuple[str, list[Window]]]:
    """The windows as the timeline groups them: the government's, then each cohort's, then the rest."""
    groups: dict[str, list[Window]] = {}
    for window in overview.windows:  # already in that order (Programme._windows)
        if window.grantee_kind == OrgKind.GOVERNMENT:
            label = GOVERNMENT
        else:
            cohort = overview.cohort_name(window.cohort_id)
            label = f"Cohort: {cohort}" if cohort else NO_COHORT
        groups.setdefault(label, []).append(window)
    return list(groups.items())


@dataclass(frozen=True, slots=True)
class _Scale:
    start: datetime
    end: datetime

    def x(self, at: datetime) -> float:
        share = (at - self.start) / (self.end - self.start)
        return LEFT + min(max(share, 0.0), 1.0) * (RIGHT - LEFT)


def _time_scale(overview: ProgrammeOverview) -> _Scale:
    model = overview.model
    moments = [model.earliest_government_start, model.planned_release_at, overview.at]
    for window in overview.windows:
        moments += [window.starts_at, window.ends_at]
    start, end = min(moments), max(moments)
    pad = max((end - start) * 0.03, timedelta(days=1))
    return _Scale(start - pad, end + pad)


def _marker(scale: _Scale, at: datetime, row: int, label: str, bottom: float, dash: str, colour: str) -> str:
    x = scale.x(at)
    anchor = "start" if x < (LEFT + RIGHT) / 2 else "end"
    nudge = 4 if anchor == "start" else -4
    dashes = f' stroke-dasharray="{dash}"' if dash else ""
    return (f'<line x1="{x:.1f}" y1="{14 * row + 4:.1f}" x2="{x:.1f}" y2="{bottom:.1f}" stroke="{colour}" '
            f'stroke-width="2"{dashes}/>' + _text(x + nudge, 14 * row + 12, label, anchor=anchor, fill=colour,
                                                   extra=' font-weight="600"'))  # fmt: skip


def timeline_svg(overview: ProgrammeOverview) -> Markup:
    """One bar per grant window (the government's first, then one per cohort window for all its members' grants,
    then the partners of no cohort), coloured by (most of its grants') state and labelled with the states; the planned release, the earliest a government window may start (the release − 30 days)
    and today drawn as labelled vertical lines; a legend of the states."""
    model, scale = overview.model, _time_scale(overview)
    groups = timeline_groups(overview)
    rows = sum(len(ws) for _, ws in groups)
    bar = 22 if rows <= 40 else 14
    axis_y = 62
    y = axis_y + 14
    body: list[str] = []
    for label, windows in groups:
        body.append(_text(8, y + 12, label, extra=' font-weight="600"'))
        y += 18
        for w in windows:
            x0, x1 = scale.x(w.starts_at), scale.x(w.ends_at)
            width = max(x1 - x0, 2.0)
            fill = STATE_FILL[w.state]  # a cohort's bar: the state of most of its grants; its words say them all
            words = w.states_in_words
            tip = f"{w.label}: {words}, {_iso_day(w.starts_at)} to {_iso_day(w.ends_at)}"
            body.append(f'<g><title>{escape(tip)}</title>'
                        f'<rect x="{x0:.1f}" y="{y + 1:.1f}" width="{width:.1f}" height="{bar - 4}" rx="3" fill="{fill}"/>')  # fmt: skip
            body.append(_text(LABELS, y + bar / 2 + 3, _short(w.label), anchor="end"))
            if width >= 7.2 * len(words) + 10:
                body.append(_text(x0 + 5, y + bar / 2 + 3, words, fill="#ffffff"))
            elif x1 + 7.2 * len(words) <= RIGHT + 20:
                body.append(_text(x1 + 4, y + bar / 2 + 3, words, fill=fill))
            else:
                body.append(_text(x0 - 4, y + bar / 2 + 3, words, anchor="end", fill=fill))
            body.append("</g>")
            y += bar
        y += 4
    if not groups:
        body.append(_text((LEFT + RIGHT) / 2, y + 16, "No grant yet: no window to draw", anchor="middle", fill=MUTED))
        y += 28
    bottom = y + 4
    grid = [f'<line x1="{LEFT}" y1="{axis_y}" x2="{RIGHT}" y2="{axis_y}" stroke="{MUTED}"/>']
    for tick in _ticks(scale.start.date(), scale.end.date()):
        at = datetime(tick.year, tick.month, tick.day, tzinfo=UTC)
        if scale.start <= at <= scale.end:
            x = scale.x(at)
            grid.append(f'<line x1="{x:.1f}" y1="{axis_y}" x2="{x:.1f}" y2="{bottom:.1f}" stroke="{LINE}"/>')
            grid.append(_text(x, axis_y - 4, _day(tick), anchor="middle", fill=MUTED))
    markers = [
        _marker(scale, model.planned_release_at, 0, f"Planned release {_iso_day(model.planned_release_at)}", bottom, "",
                INK),
        _marker(scale, model.earliest_government_start, 1,
                f"Release − 30 days {_iso_day(model.earliest_government_start)}: earliest government start", bottom,
                "7 4", "#7a3e00"),
        _marker(scale, overview.at, 2, f"Today {_iso_day(overview.at)}", bottom, "2 3", ACCENT),
    ]  # fmt: skip
    legend_y = bottom + 22
    legend, x = [_text(8, legend_y, "States:", fill=MUTED)], 60.0
    for state, fill in STATE_FILL.items():
        legend.append(f'<rect x="{x:.1f}" y="{legend_y - 10}" width="12" height="12" rx="2" fill="{fill}"/>')
        legend.append(_text(x + 16, legend_y, state.value))
        x += 24 + 7.2 * len(state.value) + 12
    counted = ", ".join(f"{n} {s.value}" for s, n in overview.grants.by_state.items() if n) or "no grant"
    desc = (f"{rows} bar{'s' if rows != 1 else ''} for the grant windows of {model.name} ({counted}), the government's "
            f"first, then one per cohort window, then the partners of no cohort. Planned release {_iso_day(model.planned_release_at)}; a government window may start "
            f"no earlier than {_iso_day(model.earliest_government_start)} (30 days before); today is "
            f"{_iso_day(overview.at)}. The table below gives every window.")  # fmt: skip
    return _svg("timeline", legend_y + 12, f"Access windows of {model.name} against its planned release", desc,
                [*grid, *body, *markers, *legend])  # fmt: skip


# -- tokens per day --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenChart:
    """The token picture's numbers: a column per grant drawn on its own (the most tokens first) and, when there are
    more, one for all the others; a row per day of the span."""

    columns: list[str]
    fills: list[str]
    grant_ids: list[uuid.UUID | None]  # the grant each column draws (None: the others, together)
    days: list[date]
    counts: list[list[int]]  # counts[day][column]

    @property
    def totals(self) -> list[int]:
        return [sum(row) for row in self.counts]

    @property
    def empty(self) -> bool:
        return not any(self.totals)

    def rows_with_tokens(self) -> list[tuple[date, list[int], int]]:
        return [(day, row, sum(row)) for day, row in zip(self.days, self.counts, strict=True) if any(row)]


def token_chart(overview: ProgrammeOverview) -> TokenChart:
    tokens = overview.tokens
    starts = {w.grant_id: w.starts_at for w in overview.windows}
    shown, rest = tokens.series[:TOP_SERIES], tokens.series[TOP_SERIES:]
    if len(rest) == 1:  # one grant more is drawn as itself rather than as "1 other grant"
        shown, rest = tokens.series[: TOP_SERIES + 1], []
    names = [s.organisation_name for s in shown]
    columns = [f"{name} (from {_day(starts[s.grant_id])})" if names.count(name) > 1 and s.grant_id in starts else name
               for name, s in zip(names, shown, strict=True)]  # fmt: skip
    fills = [*SERIES_FILL, OTHERS_FILL][: len(shown)]
    grant_ids: list[uuid.UUID | None] = [s.grant_id for s in shown]
    if rest:
        columns.append(f"{len(rest)} other grants")
        fills.append(OTHERS_FILL)
        grant_ids.append(None)
    counts = []
    for day in tokens.days:
        row = [s.days.get(day, 0) for s in shown]
        if rest:
            row.append(sum(s.days.get(day, 0) for s in rest))
        counts.append(row)
    return TokenChart(columns=columns, fills=fills, grant_ids=grant_ids, days=tokens.days, counts=counts)


def _nice_ceiling(value: int) -> int:
    if value <= 5:
        return max(value, 1)
    power = 10 ** math.floor(math.log10(value))
    return math.ceil(next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= value))


def tokens_svg(overview: ProgrammeOverview) -> Markup:
    """The tokens issued each UTC day of the programme's span, a bar per day stacked by grant, with labelled axes
    and a legend; or, before any, a picture that says no token has been issued yet."""
    chart, model = token_chart(overview), overview.model
    title = f"Tokens issued per day per grant for {model.name}"
    if chart.empty:
        why = ("No token has been issued yet." if chart.days else
               "No token has been issued yet: no access window has begun.")  # fmt: skip
        return _svg("tokens", 90, title, why, [
            f'<rect x="1" y="1" width="{WIDTH - 2}" height="88" rx="6" fill="#ffffff" stroke="{LINE}"/>',
            _text(WIDTH / 2, 50, "No tokens issued yet", anchor="middle", fill=MUTED, extra=' font-size="16"'),
        ])  # fmt: skip
    top, height = 20, 220
    base = top + height
    peak = _nice_ceiling(max(chart.totals))
    body: list[str] = []
    for n in range(5):
        value = peak * n / 4
        y = base - height * n / 4
        body.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{RIGHT}" y2="{y:.1f}" stroke="{LINE if n else MUTED}"/>')
        body.append(_text(LEFT - 6, y + 4, f"{value:g}", anchor="end", fill=MUTED))
    body.append(_text(LEFT - 48, top + height / 2, "Tokens per day", anchor="middle", fill=MUTED,
                      extra=f' transform="rotate(-90 {LEFT - 48} {top + height / 2})"'))  # fmt: skip
    slot = (RIGHT - LEFT) / len(chart.days)
    width = max(slot * 0.8, 1.0)
    for n, (day, row) in enumerate(zip(chart.days, chart.counts, strict=True)):
        x = LEFT + slot * n + (slot - width) / 2
        y = float(base)
        parts = []
        for column, fill, count in zip(chart.columns, chart.fills, row, strict=True):
            if not count:
                continue
            h = height * count / peak
            y -= h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{h:.1f}" fill="{fill}" '
                         f'stroke="#ffffff" stroke-width="0.5"><title>{escape(f"{column}: {count}")}</title></rect>')  # fmt: skip
        if parts:
            tip = f"{_iso_day(day)}: {sum(row)} token{'s' if sum(row) != 1 else ''}"
            body.append(f"<g><title>{escape(tip)}</title>{''.join(parts)}</g>")
    for tick in _ticks(chart.days[0], chart.days[-1]):
        x = LEFT + slot * (tick - chart.days[0]).days + slot / 2
        body.append(f'<line x1="{x:.1f}" y1="{base}" x2="{x:.1f}" y2="{base + 5}" stroke="{MUTED}"/>')
        body.append(_text(x, base + 18, _day(tick), anchor="middle", fill=MUTED))
    body.append(_text((LEFT + RIGHT) / 2, base + 36, "Day (UTC)", anchor="middle", fill=MUTED))
    legend_y = base + 60
    x, line = 8.0, 0
    for column, fill, total in zip(chart.columns, chart.fills, map(sum, zip(*chart.counts, strict=True)), strict=True):
        words = f"{_short(column, 36)}: {total}"
        needed = 22 + 7.0 * len(words)
        if x + needed > WIDTH and x > 8:
            x, line = 8.0, line + 1
        y = legend_y + 18 * line
        body.append(f'<rect x="{x:.1f}" y="{y - 10}" width="12" height="12" rx="2" fill="{fill}"/>')
        body.append(_text(x + 16, y, words))
        x += needed + 10
    days_with = len(chart.rows_with_tokens())
    desc = (f"{sum(chart.totals)} tokens issued from {_iso_day(chart.days[0])} to {_iso_day(chart.days[-1])}, on "
            f"{days_with} day{'s' if days_with != 1 else ''}, by {len(overview.tokens.series)} "
            f"grant{'s' if len(overview.tokens.series) != 1 else ''}; the busiest day had {max(chart.totals)}. The "
            "table below gives every day's counts.")  # fmt: skip
    return _svg("tokens", legend_y + 18 * line + 12, title, desc, body)

