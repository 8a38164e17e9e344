"""The demo account: one realistic number-keeping SIM per seed country."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from feedsvc import accounts, feeds, items
from feedsvc.models import User
from feedsvc.status import today_in

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-password"
DEMO_TIMEZONE = "Asia/Shanghai"


def demo_items(today: dt.date) -> list[dict[str, Any]]:
    """The five seed items, with due dates spread over the weeks after ``today``; those whose
    carrier has a sourced keep-alive rule follow its preset (``feedsvc.presets``)."""

    def due(days: int) -> str:
        return (today + dt.timedelta(days=days)).isoformat()

    return [
        {
            "title": "MTS Russia",
            "provider": "MTS",
            "carrier": "mts",
            "phone_number": "+7 916 123 45 67",
            "country": "RU",
            "due_date": due(12),
            "repeat": {"every": 183, "unit": "day", "from": "renewal"},
            "price": {"amount": "300.00", "currency": "RUB"},
            "bound_services": ["Sberbank", "Telegram", "Gosuslugi"],
            "notes": "Top up in the My MTS app or at mts.ru with a card or a payment agent.\n"
                     "Check the balance afterwards: the number is blocked once it goes negative.",
            "url": "https://moskva.mts.ru/personal",
        },
        {
            "title": "Hong Kong registration card",
            "provider": "China Mobile Hong Kong",
            "carrier": "china-mobile-hk",
            "phone_number": "+852 5123 4567",
            "country": "HK",
            "due_date": due(45),
            "repeat": {"every": 180, "unit": "day", "from": "renewal"},
            "price": {"amount": "118.00", "currency": "HKD"},
            "bound_services": ["HSBC HK", "WhatsApp", "Alipay HK"],
            "notes": "Buy the yearly number-keeping pack in the MySIM app; keep the receipt.",
            "url": "https://www.hk.chinamobile.com/",
        },
        {
            "title": "Montenegro prepaid card",
            "provider": "One Montenegro",
            "phone_number": "+382 67 123 456",
            "country": "ME",
            "due_date": due(6),
            "repeat": {"every": 1, "unit": "month", "from": "schedule"},
            "price": {"amount": "5.00", "currency": "EUR"},
            "bound_services": ["Revolut", "Signal"],
            "notes": "Monthly top-up of at least 5 EUR online.",
            "url": "https://www.one.me/",
        },
        {
            "title": "Monaco Telecom",
            "category": "sim",
            "provider": "Monaco Telecom",
            "carrier": "monaco-telecom",
            "phone_number": "+377 6 12 34 56 78",
            "country": "MC",
            "due_date": due(20),
            "repeat": {"every": 1, "unit": "month", "from": "schedule"},
            "grace_days": 182,
            "alarms": [{"days_before": 2, "at": "09:00"}, {"days_before": 0, "at": "18:00"}],
            "price": {"amount": "15.00", "currency": "EUR"},
            "bound_services": ["Google account", "Apple ID"],
            "notes": "Renews automatically from the card on file: check that the charge went through.",
            "url": "https://www.monaco-telecom.mc/",
            "auto_renew": True,
        },
        {
            "title": "TNT eSIM",
            "provider": "TNT (Smart)",
            "carrier": "tnt",
            "phone_number": "+63 912 345 6789",
            "country": "PH",
            "due_date": due(30),
            "repeat": {"every": 120, "unit": "day", "from": "renewal"},
            "price": {"amount": "50.00", "currency": "PHP"},
            "bound_services": ["GCash", "Maya"],
            "notes": "Reload before the balance has been at zero for 120 days.",
            "url": "https://tnt.ph/",
        },
    ]


def create_demo(session: Session, secret_key: str, today: dt.date | None = None) -> bool:
    """Create the demo account and its items; False when it already exists."""
    if session.scalar(select(User.id).where(User.email == DEMO_EMAIL)) is not None:
        return False
    # Confirmed, so that the demo's due reminders go out (to instance/outbox/ without a relay).
    user = accounts.create_user(session, DEMO_EMAIL, DEMO_PASSWORD, timezone=DEMO_TIMEZONE,
                                verified=True)
    feeds.ensure_default_feed(session, user, secret_key)
    for data in demo_items(today or today_in(DEMO_TIMEZONE)):
        items.create_item(session, user, data)
    return True
