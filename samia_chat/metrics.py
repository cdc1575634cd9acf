"""Prometheus metrics of one server process, served at /metrics.

Each Daphne process keeps its own registry: scrape every process directly (see
docs/deploy.md), not through the load balancer. Apps add figures they read from the
database at scrape time (approvals: the queue; chat.metrics: emergencies).
"""

from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

SOCKETS_OPEN = Gauge("samia_sockets_open", "WebSocket connections open in this process")
MESSAGES_SENT = Counter("samia_messages_sent_total", "Messages stored by this process", ["kind"])
SEND_REPLAYS = Counter(
    "samia_message_replays_total", "Sends answered from an earlier attempt (same client_msg_id)"
)
DELIVERY_SECONDS = Histogram(
    "samia_delivery_seconds",
    "From the broadcast after commit to the event written on a socket",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CATCH_UPS = Counter("samia_catch_up_requests_total", "Message pages asked for with after=<id>")
RATE_LIMITED = Counter(
    "samia_rate_limited_total", "Requests and frames refused by a limit", ["group"]
)
# Filled by the approvals app (approvals/apps.py), which owns the queue.
APPROVAL_QUEUE = Gauge("samia_approval_queue", "Held messages awaiting a reviewer's decision")
SOCKET_CLOSES = Counter("samia_socket_policy_closes_total", "Sockets closed by policy", ["code"])


def metrics_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)
