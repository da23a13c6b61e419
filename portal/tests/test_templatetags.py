from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from portal import presenters
from portal.templatetags.portal import money


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("12.4"), "$12.40"),
        ("0.005", "$0.01"),
        ("279.320023", "$279.32"),
        ("-3", "-$3.00"),
        ("1234.5", "$1,234.50"),
        (None, "—"),
        ("x", "—"),
    ],
)
def test_money(value, text):
    assert money(value) == text


def test_time_left():
    now = timezone.now()
    assert presenters.time_left(None, now=now) == "never"
    assert presenters.time_left(now - timedelta(minutes=1), now=now) == "expired"
    assert presenters.time_left(now + timedelta(hours=3, minutes=20, seconds=5), now=now) == "3 h 20 min"
    assert presenters.time_left(now + timedelta(days=2, hours=4, seconds=5), now=now) == "2 d 4 h"
    assert presenters.time_left(now + timedelta(seconds=30), now=now) == "1 min"


def test_spend_chart_scales_bars_to_the_largest():
    chart = presenters.spend_chart(
        [
            {"provision_request": "a", "template": "t", "usd": "10.00"},
            {"provision_request": "b", "template": "t", "usd": "5.00"},
        ]
    )
    first, second = chart["bars"]
    assert first["width"] == 2 * second["width"]
    assert second["y"] > first["y"]


def test_nothing_spent_draws_no_bar_and_rows_are_named_by_request():
    chart = presenters.spend_chart(
        [
            {"provision_request": "a", "template": "basic-eks-cluster", "usd": "10.00"},
            {"provision_request": "b", "template": "basic-eks-cluster", "usd": "0.00"},
        ],
        {"a": "Team A ingress test", "b": "Load test"},
    )
    first, second = chart["bars"]
    assert (first["label"], second["label"]) == ("Team A ingress test", "Load test")
    assert first["width"] > 0
    assert second["width"] == 0


def test_quota_rows_show_reserved_and_used_apart():
    report = {
        "dimensions": {
            "usd": {"limit": "50", "reserved": "12.40", "available": "37.60"},
            "machine_hours": {"limit": None, "reserved": "16", "available": None},
        },
        "consumed_to_date": {"usd": "0.38", "machine_hours": "0.0076", "live_requests": "1"},
    }
    budget, machines = presenters.quota_bars(report)
    assert budget["reserved_text"] == "$12.40 reserved of $50.00 ($37.60 left)"
    assert budget["used_text"] == "$0.38 used so far"
    assert machines["reserved_text"] == "16 machine-hours reserved · no limit"
    assert machines["used_text"] == "0.0076 machine-hours used so far"
