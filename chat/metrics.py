"""Emergency figures for /metrics, read from the database when Prometheus scrapes.

The ladder is applied by the emergency worker, a process of its own that nobody scrapes,
so counting escalations in a process's memory would miss them; the rows themselves are the
count. Two indexed aggregate queries per scrape.
"""

from collections.abc import Iterator

from django.db import DatabaseError
from django.db.models import Count
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from chat.models import EmergencyEvent, EmergencyRequest

STEP_LABELS = {
    EmergencyRequest.Step.READERS: "readers",
    EmergencyRequest.Step.STAFF: "staff",
    EmergencyRequest.Step.SUPER_ADMINS: "super_admins",
}
ESCALATION_LABELS = {
    EmergencyEvent.Kind.ESCALATED_STAFF: "staff",
    EmergencyEvent.Kind.ESCALATED_SUPER: "super_admins",
}


def _families() -> tuple[GaugeMetricFamily, CounterMetricFamily]:
    waiting = GaugeMetricFamily(
        "samia_emergencies_open",
        "Emergency requests nobody has taken yet, by who is being alerted",
        labels=["step"],
    )
    escalations = CounterMetricFamily(
        "samia_emergency_escalations",
        "Emergency requests escalated, by whom they were escalated to (all time)",
        labels=["to"],
    )
    return waiting, escalations


class EmergencyCollector(Collector):
    def describe(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        # Registration asks for the names; without this it would query the database then.
        yield from _families()

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        waiting, escalations = _families()
        try:
            open_by_step = dict(
                EmergencyRequest.objects.filter(status__in=EmergencyRequest.OPEN_STATUSES)
                .values_list("step")
                .annotate(n=Count("pk"))
            )
            by_kind = dict(
                EmergencyEvent.objects.filter(kind__in=list(ESCALATION_LABELS))
                .values_list("kind")
                .annotate(n=Count("pk"))
            )
        except DatabaseError:
            return  # the database is down: /readyz says so; the other metrics still serve
        for step, label in STEP_LABELS.items():
            waiting.add_metric([label], open_by_step.get(step, 0))
        for kind, label in ESCALATION_LABELS.items():
            escalations.add_metric([label], by_kind.get(kind, 0))
        yield waiting
        yield escalations
