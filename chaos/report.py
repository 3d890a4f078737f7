"""The chaos report: a table per scenario and the targets missed, as text and JSON."""

import json
from pathlib import Path

from chaos.judge import Result
from chaos.scenarios import Timings


def write_report(results: list[Result], timings: Timings, strategy: str, visitors: int, seed: int, stem: Path) -> None:
    table = format_table(results)
    setup = (
        f"strategy {strategy}, TTL {timings.ttl} s, {visitors} visitors, "
        "2 instances x 2 workers (gthread, 16 threads), "
        f"healthy {timings.healthy} s, outage {timings.outage} s, pause {timings.pause} s, seed {seed}"
    )
    missed = [f"- {result.scenario}: {miss}" for result in results for miss in result.missed]
    text = f"{setup}\n\n{table}\n\n" + (
        "Every target met.\n" if not missed else "Targets missed:\n" + "\n".join(missed) + "\n"
    )
    stem.with_suffix(".txt").write_text(text)
    stem.with_suffix(".json").write_text(
        json.dumps(
            {"setup": setup, "timings": timings.__dict__, "results": [result.__dict__ for result in results]},
            indent=2,
        )
    )
    print("\n" + text, flush=True)


def format_table(results: list[Result]) -> str:
    header = (
        "| scenario | requests | answers | slowest before / during (s) | longest cache wait (s) "
        "| staleness before / after (s) | stale once back | back in time | lost writes | instances agree |"
    )
    lines = [header, "|" + "---|" * 10]
    for result in results:
        answers = ", ".join(f"{status}: {count}" for status, count in result.outcomes.items())
        extra = []
        if result.evictions:
            extra.append(f"{result.evictions} evictions")
        if result.recovery is not None:
            extra.append(f"503 pages: {result.unavailable_pages}, slowest {result.slowest_unavailable_page:.2f} s")
            extra.append(f"first write {result.recovery:.2f} s after PostgreSQL was back")
            extra.append(f"slowest read while it was down {result.slowest_read_during_fault:.2f} s")
        name = result.scenario + (f" ({'; '.join(extra)})" if extra else "")
        lines.append(
            f"| {name} | {result.requests} | {answers} "
            f"| {result.slowest_healthy:.2f} / {result.slowest_during_fault:.2f} | {result.slowest_cache_wait:.2f} "
            f"| {result.staleness_healthy:.2f} / {result.staleness_after_fault:.2f} | {result.stale_once_back} "
            f"| {result.back_in_time} | {result.lost_writes} "
            f"| {'yes' if result.instances_agree else 'NO'} |"
        )
    return "\n".join(lines)
