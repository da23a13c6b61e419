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
