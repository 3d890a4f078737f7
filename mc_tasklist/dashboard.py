"""/stats/: what MemCachier's dashboard shows, for any memcached, plus the app's own layers."""

from django import forms
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from mc_tasklist import stats
from mc_tasklist.caching import invalidation
from mc_tasklist.caching.keys import COUNTED_LAYERS

CHART_WIDTH, CHART_HEIGHT = 600, 150


class FlushForm(forms.Form):
    confirm = forms.BooleanField(
        label="Yes, delete every entry in the cache (sessions stored only in the cache end too)",
        error_messages={"required": "Tick the box to confirm the flush."},
    )


def hit_rate_level(rate: float | None) -> str:
    """Bootstrap colour for a hit rate: green from 80 %, yellow from 50 %, red below."""
    if rate is None:
        return "secondary"
    return "success" if rate >= 0.8 else "warning" if rate >= 0.5 else "danger"


def chart_points(history: list[dict], value) -> list[dict]:
    """SVG coordinates of one series over the last hour; ``value`` gives a fraction from 0 to 1."""
    if not history:
        return []
    first = history[-1]["minute"] - stats.HISTORY_MINUTES
    points = []
    for point in history:
        fraction = value(point)
        if fraction is not None:
            x = (point["minute"] - first) * CHART_WIDTH / stats.HISTORY_MINUTES
            points.append({"x": round(x, 1), "y": round(CHART_HEIGHT - fraction * CHART_HEIGHT, 1)})
    return points


def memory_used(point: dict) -> float | None:
    return point["bytes"] / point["limit_maxbytes"] if point["limit_maxbytes"] else None


def dashboard_context(report: dict, flush_form: FlushForm) -> dict:
    """What stats.html shows, from ``stats.report()``."""
    servers = [
        {"name": name, "numbers": numbers, "level": hit_rate_level(numbers and numbers["hit_rate"])}
        for name, numbers in (report["servers"] or {}).items()
    ]
    layers = [
        {
            "name": layer,
            "hits": report["app"][f"{layer}_hit"],
            "misses": report["app"][f"{layer}_miss"],
            "rate": report["app"][f"{layer}_hit_rate"],
            "level": hit_rate_level(report["app"][f"{layer}_hit_rate"]),
        }
        for layer in COUNTED_LAYERS
    ]
    history = report["history"]
    return {
        "servers": servers,
        "in_process": report["servers"] is None,
        "app": report["app"],
        "layers": layers,
        "history": history,
        "chart": {
            "width": CHART_WIDTH,
            "height": CHART_HEIGHT,
            "guides": [{"label": f"{p} %", "y": round(CHART_HEIGHT * (1 - p / 100), 1)} for p in (50, 80)],
            "series": [
                {"colour": "#198754", "points": chart_points(history, lambda p: p["hit_rate"])},
                {"colour": "#0d6efd", "points": chart_points(history, memory_used)},
            ],
        },
        "flush_form": flush_form,
    }


def _dashboard(request, *, flush_form: FlushForm, status: int = 200):
    context = dashboard_context(stats.report(), flush_form)
    return render(request, "mc_tasklist/stats.html", context, status=status)


@staff_member_required
@never_cache
@require_safe
def stats_page(request):
    return _dashboard(request, flush_form=FlushForm())


@staff_member_required
@never_cache
@require_POST
def flush_cache(request):
    form = FlushForm(request.POST)
    if not form.is_valid():
        return _dashboard(request, flush_form=form, status=400)
    invalidation.cache_flushed()
    messages.success(request, "The cache was flushed.")
    return redirect("stats")


@staff_member_required
@require_POST
def reset_counters(request):
    stats.reset_counters()
    messages.success(request, "The app's counters start again from zero.")
    return redirect("stats")
