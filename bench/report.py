"""The benchmark's report: medians, ratios to the floor, a table, JSON and a chart."""

import json
import os
import platform
import statistics
import time
from pathlib import Path

VERSION_WINDOW_MS = 5
FLOOR, WARM, DEFAULT_MIXED = "floor: Django", "all layers, warm", "update, 95/5 read/write"
TUTORIAL_WARM, TUTORIAL_MIXED = "tutorial: cache_page, warm", "tutorial: cache_page, 95/5"


def target_rows(targets) -> list[dict]:
    """Each target's medians over its rounds, the spread of req/s and of CPU per request, and its ratios
    to the Django floor."""

    def medians(samples: list[dict]) -> dict:
        rates = [sample["requests_per_second"] for sample in samples]
        cpu = [sample["cpu_us_per_request"] for sample in samples]
        return {
            **{key: statistics.median(sample[key] for sample in samples) for key in samples[0]},
            "rps_min": min(rates),
            "rps_max": max(rates),
            "cpu_min": min(cpu),
            "cpu_max": max(cpu),
        }

    rows = [{"target": target.name, **medians(target.rounds)} for target in targets]
    floor = next(row for row in rows if row["target"] == FLOOR)
    for row in rows:
        row["vs_django_floor"] = round(row["requests_per_second"] / floor["requests_per_second"], 2)
        row["cpu_vs_django_floor"] = round(row["cpu_us_per_request"] / floor["cpu_us_per_request"], 2)
    return rows


def summarise(targets, growth, stampede, tutorial_staleness, tutorial_add, args, page_bytes, duration, rounds) -> dict:
    rows = target_rows(targets)
    by_name = {row["target"]: row for row in rows}
    floor = by_name[FLOOR]
    for point in growth:
        point["warm"]["vs_django_floor"] = round(point["warm"]["requests_per_second"] / floor["requests_per_second"], 2)
    return {
        "goals": goals(by_name, growth, tutorial_staleness, tutorial_add),
        "tutorial_staleness": tutorial_staleness,
        "tutorial_add": tutorial_add,
        "machine": {
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "settings": {
            "workers": args.workers,
            "worker_class": args.worker_class,
            "threads": args.threads,
            "connections": args.connections,
            "tasks": args.tasks,
            "page_bytes": page_bytes,
            "round_seconds": duration,
            "rounds": rounds,
            "quick": args.quick,
        },
        "targets": rows,
        "growth": growth,
        "stampede": stampede,
        "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def goals(rows: dict, growth: list[dict], tutorial_staleness: dict, tutorial_add: dict) -> dict:
    """The figures the README quotes (issue 18's five goals), from this one run."""
    floor, warm, mixed = rows[FLOOR], rows[WARM], rows[DEFAULT_MIXED]
    smallest, largest = growth[0], growth[-1]
    return {
        "warm_vs_floor": round(warm["requests_per_second"] / floor["requests_per_second"], 2),
        "warm_p99_vs_floor_p99": round(warm["p99_ms"] / floor["p99_ms"], 2),
        "mixed_vs_warm": round(mixed["requests_per_second"] / warm["requests_per_second"], 2),
        "mixed_p99_vs_warm_p99": round(mixed["p99_ms"] / warm["p99_ms"], 2),
        "add_growth": round(largest["add_p50_ms"] / smallest["add_p50_ms"], 2),
        # The add's time beyond its commit wait (TASKLIST_VERSION_WINDOW_MS, 5 ms by default).
        "add_beyond_window_ms": [round(p["add_p50_ms"] - VERSION_WINDOW_MS, 2) for p in (smallest, largest)],
        "add_range_tasks": [smallest["tasks"], largest["tasks"]],
        "add_vs_tutorial_add": round(smallest["add_p50_ms"] / tutorial_add["p50_ms"], 2),
        "worst_cold_page_vs_first_cold": round(
            max(max(p["cold_deep_p50_ms"], p["cold_oldest_p50_ms"]) / p["cold_p50_ms"] for p in growth), 2
        ),
        "cold_first_growth": round(largest["cold_p50_ms"] / smallest["cold_p50_ms"], 2),
        "tutorial_warm_vs_floor": round(rows[TUTORIAL_WARM]["requests_per_second"] / floor["requests_per_second"], 2),
        "tutorial_mixed_vs_its_warm": round(
            rows[TUTORIAL_MIXED]["requests_per_second"] / rows[TUTORIAL_WARM]["requests_per_second"], 2
        ),
        "tutorial_stale_reads": f"{tutorial_staleness['stale']} of {tutorial_staleness['reads']}",
    }


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def targets_table(rows: list[dict]) -> list[str]:
    lines = [
        f"{'target':<41} {'req/s':>6} {'min':>5} {'max':>5} {'p50 ms':>6} {'p99 ms':>7} {'err':>4} {'x floor':>7}"
        f" {'CPU µs/req':>10} {'min':>5} {'max':>5} {'x floor':>7}",
        "-" * 121,
    ]
    for row in rows:
        lines.append(
            f"{row['target']:<41} {row['requests_per_second']:>6.0f} {row['rps_min']:>5.0f} {row['rps_max']:>5.0f}"
            f" {row['p50_ms']:>6.2f} {row['p99_ms']:>7.2f} {row['errors']:>4.0f} {row['vs_django_floor']:>7.2f}"
            f" {row['cpu_us_per_request']:>10.0f} {row['cpu_min']:>5.0f} {row['cpu_max']:>5.0f}"
            f" {row['cpu_vs_django_floor']:>7.2f}"
        )
    return lines


def write_rounds(rows: list[dict], settings: dict, results: Path) -> None:
    """make bench --only-rounds: the targets' table alone (bench/results/rounds.*)."""
    text = "\n".join(targets_table(rows))
    print()
    print(text)
    (results / "rounds.json").write_text(json.dumps({"settings": settings, "targets": rows}, indent=2))
    (results / "rounds.txt").write_text(text + "\n")
    print("\nWritten: bench/results/rounds.json, rounds.txt")


def table(report: dict) -> str:
    lines = targets_table(report["targets"])
    lines += [
        "",
        f"{'tasks':>9} {'warm req/s':>11} {'cold first':>11} {'cold middle':>12} {'cold oldest':>12}"
        f" {'add p50 (min-max) ms':>22}",
    ]
    for point in report["growth"]:
        add = point["add"]
        lines.append(
            f"{point['tasks']:>9} {point['warm']['requests_per_second']:>11.0f} {point['cold_p50_ms']:>11.2f}"
            f" {point['cold_deep_p50_ms']:>12.2f} {point['cold_oldest_p50_ms']:>12.2f}"
            f" {add['p50_ms']:>9.2f} ({add['min_ms']:.1f}-{add['max_ms']:.1f})"
        )
    t = report["tutorial_add"]
    lines.append(
        f"tutorial's add at {t['tasks']} tasks: {t['p50_ms']:.2f} ms ({t['min_ms']:.1f}-{t['max_ms']:.1f}),"
        " no pool, as its settings have none"
    )
    w = report.get("write_throughput")
    if w:
        lines.append(
            f"write throughput: {w['writers']} writers adding at once: {w['adds_per_second']:.0f} adds/s"
            f" ({w['min']:.0f}-{w['max']:.0f}), p50 {w['p50_ms']:.1f} ms, p99 {w['p99_ms']:.1f} ms,"
            f" {w['cpu_us_per_add']:.0f} µs of CPU per add, {w['errors']} errors"
        )
    s = report["stampede"]
    lines += [
        "",
        f"stampede: {s['requests']} concurrent requests on a cold cache, 1 s query: "
        f"{s['ok']} answered 200, the query ran {s['task_list_queries']} time(s), "
        f"{s['stampede_waits']} waited for it, slowest {s['slowest_s']} s",
        "",
        "goals:",
        *(f"  {name}: {value}" for name, value in report["goals"].items()),
        f"  tutorial staleness: {report['goals']['tutorial_stale_reads']} reads within"
        f" {report['tutorial_staleness']['over_seconds']:.0f} s of an acknowledged add did not show it;"
        f" {report['tutorial_staleness']['never_seen']} of {report['tutorial_staleness']['probes']} adds never showed",
    ]
    return "\n".join(lines)


def write_outputs(report: dict, results: Path) -> None:
    text = table(report)
    print()
    print(text)
    name = "quick" if report["settings"]["quick"] else "full"
    (results / f"{name}.json").write_text(json.dumps(report, indent=2))
    (results / f"{name}.txt").write_text(text + "\n")
    chart(report, results / f"{name}.png")
    print(f"\nWritten: bench/results/{name}.json, {name}.txt, {name}.png")


def chart(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report["targets"]
    figure, (throughput, growth) = plt.subplots(1, 2, figsize=(13, 5.5), gridspec_kw={"width_ratios": [2.2, 1]})
    names = [row["target"] for row in rows]
    values = [row["requests_per_second"] for row in rows]
    colours = ["#6c757d" if name.startswith("floor") else "#0d6efd" for name in names]
    throughput.barh(
        names,
        values,
        color=colours,
        xerr=[
            [v - row["rps_min"] for v, row in zip(values, rows, strict=True)],
            [row["rps_max"] - v for v, row in zip(values, rows, strict=True)],
        ],
        ecolor="#343a40",
        capsize=2,
    )
    floor = next(row["requests_per_second"] for row in rows if row["target"] == FLOOR)
    throughput.axvline(floor, color="#dc3545", linestyle="--", label="Django floor")
    for y, row in enumerate(rows):
        throughput.text(row["requests_per_second"], y, f" {row['vs_django_floor']:.2f}x", va="center", fontsize=8)
    throughput.invert_yaxis()
    throughput.set_xlabel("requests per second (median of rounds; the bars span min to max)")
    throughput.set_title("GET / throughput, and its ratio to the Django floor")
    throughput.legend(loc="lower right")

    sizes = [point["tasks"] for point in report["growth"]]
    growth.plot(
        sizes,
        [p["warm"]["p50_ms"] for p in report["growth"]],
        marker="o",
        label=f"warm, under load (wrk, {report['settings']['connections']} connections)",
    )
    growth.plot(sizes, [p["cold_p50_ms"] for p in report["growth"]], marker="o", label="cold first page")
    growth.plot(sizes, [p["cold_deep_p50_ms"] for p in report["growth"]], marker="o", label="cold middle page")
    growth.plot(sizes, [p["cold_oldest_p50_ms"] for p in report["growth"]], marker="o", label="cold oldest page")
    growth.plot(sizes, [p["add_p50_ms"] for p in report["growth"]], marker="o", label="add a task")
    growth.set_xscale("log")
    growth.set_xlabel("tasks in the database")
    growth.set_ylabel("p50 latency, ms")
    growth.set_title("Cost growth")
    growth.legend()
    s = report["settings"]
    figure.suptitle(
        f"{report['machine']['cpu']}, {report['machine']['cores']} cores; gunicorn {s['workers']} {s['worker_class']}"
        f" workers; {s['page_bytes']} byte page; {report['finished']}",
        fontsize=9,
    )
    figure.tight_layout()
    figure.savefig(path, dpi=100)
