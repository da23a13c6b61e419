from decimal import Decimal

from django.template import Context, Template

from portal.display import money, quota_preview


def test_money_is_dollars_with_cents():
    assert money("1234.5") == "$1,234.50"
    assert money(Decimal("0.005")) == "$0.01"
    assert money(3) == "$3.00"
    assert money("-3") == "-$3.00"
    assert money(None) == "—"
    assert money("n/a") == "—"


def test_the_money_filter():
    rendered = Template("{% load portal %}{{ value|money }}").render(Context({"value": "12.4"}))
    assert rendered == "$12.40"


def test_quota_preview_says_what_is_left_after_this_request():
    preview = {
        "fits": True,
        "dimensions": {
            "usd": {"limit": "50", "reserved": "30", "available": "20"},
            "live_environments": {"limit": "3", "reserved": "1", "available": "2"},
            "machine_hours": {"limit": None, "reserved": "4", "available": None},
        },
    }
    shown = quota_preview(preview, estimate={"usd": "7.60", "machine_hours": "8"})
    assert shown.fits
    assert not shown.message
    assert [line.text for line in shown.lines] == [
        "$12.40 of your $50.00 left after this request",
        "1 of your 3 live environments left after this request",
    ]
    assert shown.lines[0].percent_used == 75


def test_quota_preview_says_by_how_much_it_would_be_over():
    preview = {
        "fits": False,
        "message": "This would exceed your quota: USD budget (limit 10, reserved 8, this request 5).",
        "quota": {"usd": {"limit": "10", "reserved": "8", "this_request": "5", "exceeded": True}},
    }
    shown = quota_preview(preview, estimate={"usd": "5.00"})
    assert not shown.fits
    assert shown.message.startswith("This would exceed your quota")
    assert [(line.text, line.exceeded) for line in shown.lines] == [("$3.00 over your $10.00 with this request", True)]


def test_no_limits():
    shown = quota_preview({"fits": True, "dimensions": {"usd": {"limit": None}}}, estimate={"usd": "1"})
    assert shown.unlimited
    assert shown.lines == []


# --- issue 25: rates, plurals, values and times in words ---------------------------------------


def test_a_rate_keeps_its_digits_and_says_its_unit_once():
    from portal.display import price, rate

    assert rate("0.0496", "USD per instance-hour") == "$0.0496 per instance-hour"
    assert rate("0.10", "USD per cluster-hour") == "$0.10 per cluster-hour"
    assert rate("0.08", "USD per GB-month (730 h)") == "$0.08 per GB-month (730 h)"
    assert price("1234.5") == "$1,234.50"
    assert rate(None, "USD per hour") == "—"


def test_plurals():
    from portal.display import hours, plural

    assert plural("1", "clusters") == "1 cluster"
    assert plural("2", "clusters") == "2 clusters"
    assert plural("40", "GB") == "40 GB"
    assert plural("1", "instances") == "1 instance"
    assert hours("1") == "1 hour"
    assert hours("8") == "8 hours"
    assert hours("0.5") == "0.5 hours"


def test_values_in_words():
    from portal.display import value_text

    assert value_text(True) == "Yes"
    assert value_text(False) == "No"
    assert value_text(["a", "b"]) == "a, b"
    assert value_text(None) == "—"
    assert value_text(3) == "3"


def test_a_time_reads_short_with_the_exact_moment_on_hover():
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from portal.display import when

    now = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
    shown = when("2026-12-08T14:05:32+00:00", now=now)
    assert (shown.iso, shown.text, shown.exact) == (
        "2026-12-08T14:05:32+00:00",
        "8 Dec, 14:05 UTC",
        "Tuesday 8 December 2026, 14:05:32 UTC",
    )
    assert when(datetime(2025, 1, 2, 3, 4, tzinfo=UTC), now=now).text == "2 Jan 2025, 03:04 UTC"
    paris = when(datetime(2026, 12, 8, 14, 5, tzinfo=UTC), now=now, zone=ZoneInfo("Europe/Paris"))
    assert paris.text == "8 Dec, 15:05 CET"
    assert paris.iso == "2026-12-08T14:05:00+00:00"
    assert when(None, now=now) is None
    assert when("not a time", now=now) is None


def test_the_when_filter_writes_a_time_element():
    rendered = Template("{% load portal %}{{ value|when }}").render(Context({"value": "2020-01-02T03:04:05Z"}))
    assert rendered == (
        '<time datetime="2020-01-02T03:04:05+00:00" title="Thursday 2 January 2020, 03:04:05 UTC" '
        'data-local="true">2 Jan 2020, 03:04 UTC</time>'
    )
