import json

from django.core.management.base import BaseCommand

from mc_tasklist import stats
from mc_tasklist.caching.keys import COUNTED_LAYERS


def percent(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate:.1%}"


class Command(BaseCommand):
    help = "Print the cache servers' statistics and the app's hits and misses per caching layer."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print JSON, for scripts")

    def handle(self, *args, **options):
        report = stats.report()
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
            return
        servers = report["servers"]
        if servers is None:
            self.stdout.write("Cache servers: unavailable (the in-process cache keeps no statistics)")
        for name, numbers in (servers or {}).items():
            if numbers is None:
                self.stdout.write(f"{name}: unreachable")
                continue
            self.stdout.write(f"{name}: hit rate {percent(numbers['hit_rate'])}")
            for field, value in numbers.items():
                if field != "hit_rate":
                    self.stdout.write(f"  {field:<18} {value}")
        app = report["app"]
        self.stdout.write("App counters since the last reset:")
        for layer in COUNTED_LAYERS:
            hits, misses = app[f"{layer}_hit"], app[f"{layer}_miss"]
            rate = percent(app[f"{layer}_hit_rate"])
            self.stdout.write(f"  {layer:<9} hits {hits:<8} misses {misses:<8} hit rate {rate}")
        self.stdout.write(f"  invalidations {app['invalidation']}")
        self.stdout.write(f"  stampede waits {app['stampede_wait']}")
        self.stdout.write(f"  task-list queries run {app['task_list_query']}")
