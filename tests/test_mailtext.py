"""What each mail says: in the account's language, with the right dates and links, escaped."""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import re
from collections.abc import Callable
from email import message_from_bytes, policy
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir
from flask import Flask

from feedsvc import mailtext
from feedsvc.mail import Mail, build_message, mail_settings, postman
from feedsvc.mailtext import ReminderFacts, ReminderLinks
from feedsvc.models import Item

from helpers.smtp import SmtpServer

PACKAGE = Path(__file__).resolve().parent.parent / "feedsvc"
DUE = dt.date(2026, 12, 17)
FACTS = ReminderFacts(
    title="MTS Russia", kind="alarm", due_date=DUE, days_left=3,
    last_day=DUE + dt.timedelta(days=30), provider="MTS", phone_number="+7 916 123 45 67",
    price_amount="300.00", price_currency="RUB", bound_services=("Sberbank", "Telegram"),
    notes="Top up in the app.\nCheck the balance.", renew_url="https://mts.ru/")
LINKS = ReminderLinks(item="https://feeds.example.org/items/7",
                      renewed="https://feeds.example.org/act/Renew-T0ken",
                      snooze="https://feeds.example.org/act/Snooze-T0ken",
                      unsubscribe="https://feeds.example.org/unsubscribe/Unsub-T0ken")
URL = re.compile(r"https?://\S+")


def english_words(text: str) -> set[str]:
    """The Latin-letter words of a text, links left out (one letter alone is no word)."""
    return set(re.findall(r"[A-Za-z][A-Za-z_]*[A-Za-z]", URL.sub(" ", text)))


def visible(fragment: str) -> str:
    """What a reader sees of some HTML: its text without tags, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.hrefs.extend(value or "" for name, value in attrs if name == "href")


def parsed_html(mail: Mail) -> _Links:
    parser = _Links()
    parser.feed(mail.html)
    parser.close()
    return parser


def reminder(app: Flask, locale: str = "en", **changes: Any) -> Mail:
    with app.app_context():
        return mailtext.reminder(dataclasses.replace(FACTS, **changes), LINKS,
                                 to="anna@example.com", locale=locale)


# ---- subjects ----------------------------------------------------------------------------

GRACE = DUE + dt.timedelta(days=30)


@pytest.mark.parametrize(("changes", "english", "chinese"), [
    ({}, "Renew MTS Russia — due in 3 days (Dec 17)", "续费 MTS Russia — 3 天后到期（12月17日）"),
    ({"days_left": 14}, "Renew MTS Russia — due in 14 days (Dec 17)",
     "续费 MTS Russia — 14 天后到期（12月17日）"),
    ({"days_left": 1}, "Renew MTS Russia — due tomorrow (Dec 17)",
     "续费 MTS Russia — 明天到期（12月17日）"),
    ({"days_left": 0}, "Renew MTS Russia — due today (Dec 17)",
     "续费 MTS Russia — 今天到期（12月17日）"),
    ({"days_left": -1, "kind": "overdue"},
     "MTS Russia is overdue — 29 days left before the number is recycled",
     "MTS Russia 已过期 — 还剩 29 天号码就会被回收"),
    ({"days_left": -29, "kind": "snoozed"},
     "MTS Russia is overdue — 1 day left before the number is recycled",
     "MTS Russia 已过期 — 还剩 1 天号码就会被回收"),
    ({"days_left": -30, "kind": "last_day"},
     "Last day for MTS Russia — renew today before the number is recycled",
     "MTS Russia 最后一天 — 今天续费，以免号码被回收"),
    ({"days_left": -31, "kind": "snoozed"},
     "MTS Russia was not renewed in time (last day Jan 16)",
     "MTS Russia 未能按时续费（最后一天是 1月16日）"),
    ({"days_left": -1, "kind": "overdue", "last_day": None}, "MTS Russia was due yesterday",
     "MTS Russia 昨天已到期"),
    ({"days_left": -4, "kind": "snoozed", "last_day": None},
     "MTS Russia is 4 days overdue (due Dec 17)", "MTS Russia 已过期 4 天（12月17日 到期）"),
    ({"kind": "test"}, "Test: Renew MTS Russia — due in 3 days (Dec 17)",
     "测试：续费 MTS Russia — 3 天后到期（12月17日）"),
], ids=str)
def test_the_subject_says_what_and_when(app: Flask, changes: dict[str, Any], english: str,
                                        chinese: str) -> None:
    assert reminder(app, "en", **changes).subject == english
    assert reminder(app, "zh-Hans", **changes).subject == chinese


def test_a_long_title_is_cut_so_that_the_when_stays_on_the_lock_screen(app: Flask) -> None:
    subject = reminder(app, title="A" * 150).subject
    assert subject == "Renew " + "A" * 59 + "… — due in 3 days (Dec 17)"


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown reminder kind"):
        dataclasses.replace(FACTS, kind="weekly")


def test_the_facts_of_an_item_count_from_the_accounts_today() -> None:
    item = Item(title="MTS Russia", due_date=DUE, grace_days=30, provider="MTS",
                phone_number="+7 916 123 45 67", price_amount="300.00", price_currency="RUB",
                bound_services=["Sberbank", "Telegram"], notes="Top up in the app.\n"
                "Check the balance.", url="https://mts.ru/")
    facts = ReminderFacts.of_item(item, "alarm", DUE - dt.timedelta(days=3))
    assert facts == FACTS
    overdue = ReminderFacts.of_item(item, "overdue", DUE + dt.timedelta(days=1))
    assert (overdue.days_left, overdue.days_before_recycling) == (-1, 29)
    item.grace_days = None
    assert ReminderFacts.of_item(item, "overdue", DUE).last_day is None


# ---- the reminder's body -----------------------------------------------------------------

def test_an_english_reminder_gives_every_fact_and_both_actions(app: Flask) -> None:
    mail = reminder(app)
    assert mail.to == "anna@example.com" and mail.unsubscribe_url == LINKS.unsubscribe
    for part in (mail.text, visible(mail.html)):
        for expected in ("Dec 17, 2026 (in 3 days)", "Jan 16, 2027", "MTS", "•••• 4567",
                         "300.00 RUB", "Sberbank and Telegram", "Top up in the app.",
                         "Check the balance.", "https://mts.ru/", "I renewed it",
                         "Remind me tomorrow", "Stop reminders to this address"):
            assert expected in part, expected
        assert "916 123" not in part, "only the last four digits of the number"
    for line in ("Due date: Dec 17, 2026 (in 3 days)", "Last day before recycling: Jan 16, 2027",
                 "Provider: MTS", "Number: •••• 4567", "Price: 300.00 RUB",
                 "Bound accounts: Sberbank and Telegram", "Renew at: https://mts.ru/",
                 f"I renewed it:\n{LINKS.renewed}\n", f"Remind me tomorrow:\n{LINKS.snooze}\n",
                 f"Open the item in feedsvc:\n{LINKS.item}\n",
                 f"Stop reminders to this address:\n{LINKS.unsubscribe}\n"):
        assert line in mail.text, line
    assert parsed_html(mail).hrefs == ["https://mts.ru/", LINKS.renewed, LINKS.snooze,
                                       LINKS.item, LINKS.unsubscribe]
    assert "Top up in the app.<br>Check the balance." in mail.html
    assert "\n\n\n" not in mail.text and not mail.text.startswith("\n")


def test_a_chinese_reminder_is_all_in_chinese_with_chinese_dates(app: Flask) -> None:
    mail = reminder(app, "zh-Hans", notes="在 App 里充值。")
    values = english_words(" ".join(["MTS Russia", "MTS", "RUB", "Sberbank", "Telegram",
                                     "feedsvc", "App"]))
    for part in (mail.text, visible(mail.html)):
        assert english_words(part) <= values, "English left in a Chinese mail"
        for expected in ("到期日", "2026年12月17日（3 天后）", "回收前最后一天", "2027年1月16日",
                         "号码", "•••• 4567", "价格", "300.00 RUB", "绑定的账号",
                         "Sberbank和Telegram", "续费网址", "你的备注", "我已续费", "明天再提醒我",
                         "不再向这个地址发送提醒"):
            assert expected in part, expected
    assert "到期日：2026年12月17日（3 天后）" in mail.text
    assert '<html lang="zh-Hans">' in mail.html
    assert parsed_html(mail).hrefs[1:3] == [LINKS.renewed, LINKS.snooze]


def test_an_overdue_reminder_counts_the_days_before_recycling(app: Flask) -> None:
    english = reminder(app, days_left=-1, kind="overdue").text
    assert "Due date: Dec 17, 2026 (1 day overdue)" in english
    assert "Last day before recycling: Jan 16, 2027 (29 days left)" in english
    chinese = reminder(app, "zh-Hans", days_left=-1, kind="overdue").text
    assert "到期日：2026年12月17日（已过期 1 天）" in chinese
    assert "回收前最后一天：2027年1月16日（还剩 29 天）" in chinese
    last_day = reminder(app, days_left=-30, kind="last_day").text
    assert "Last day before recycling: Jan 16, 2027 (today)" in last_day


def test_a_reminder_leaves_out_what_the_item_does_not_have(app: Flask) -> None:
    mail = reminder(app, last_day=None, provider=None, phone_number=None, price_amount=None,
                    bound_services=(), notes="  ", renew_url=None)
    for label in ("Last day", "Provider", "Number", "Price", "Bound", "Renew at", "notes"):
        assert label not in mail.text and label not in mail.html, label


def test_a_reminder_without_a_snooze_link_offers_no_snooze(app: Flask) -> None:
    with app.app_context():
        mail = mailtext.reminder(FACTS, dataclasses.replace(LINKS, snooze=None),
                                 to="anna@example.com", locale="en")
    assert "Remind me tomorrow" not in mail.text and "Remind me tomorrow" not in mail.html
    assert "https://feeds.example.org/act/Renew-T0ken" in mail.text


def test_a_test_reminder_says_it_is_a_test(app: Flask) -> None:
    mail = reminder(app, kind="test")
    assert mail.text.startswith("Renew MTS Russia — due in 3 days (Dec 17)\n\nThis is a test")
    assert "这是一封测试邮件" in reminder(app, "zh-Hans", kind="test").text


def test_the_html_shows_notes_and_titles_as_text_never_as_markup(app: Flask) -> None:
    mail = reminder(app, title='<b onclick="x()">SIM</b>',
                    notes='<script>alert("hi")</script>\n<a href="https://evil.example/">x</a>',
                    renew_url="javascript:alert(1)")
    assert "<script" not in mail.html and "<b " not in mail.html
    assert "&lt;script&gt;alert(&#34;hi&#34;)&lt;/script&gt;" in mail.html
    links = parsed_html(mail)
    assert "script" not in links.tags and "b" not in links.tags
    assert not any(href.startswith(("javascript:", "https://evil")) for href in links.hrefs)
    assert '<script>alert("hi")</script>' in mail.text, "plain text keeps what was typed"
    assert mail.subject.startswith('Renew <b onclick="x()">SIM</b>')


def test_the_html_loads_nothing_from_elsewhere(app: Flask) -> None:
    mail = reminder(app)
    tags = parsed_html(mail).tags
    assert not tags & {"img", "script", "link", "iframe", "style", "form"}
    assert "src=" not in mail.html


# ---- account mail ------------------------------------------------------------------------

CONFIRM = "https://feeds.example.org/confirm/C0nfirm-T0ken"
RESET = "https://feeds.example.org/reset/Reset-T0ken"
LOGIN = "https://feeds.example.org/login"
REMINDERS = "https://feeds.example.org/reminders"
UNSUBSCRIBE = "https://feeds.example.org/unsubscribe/Unsub-T0ken"

# (name, how to make it, its links, English it says, Chinese it says)
ACCOUNT_MAILS: list[tuple[str, Callable[..., Mail], list[str], list[str], list[str]]] = [
    ("welcome", lambda **kw: mailtext.welcome(CONFIRM, **kw), [CONFIRM],
     ["Welcome to feedsvc — confirm your address", "Confirm my address", "did not sign up"],
     ["欢迎使用 feedsvc — 请确认你的邮箱地址", "确认我的地址", "如果你没有注册 feedsvc"]),
    ("confirm_address", lambda **kw: mailtext.confirm_address(CONFIRM, **kw), [CONFIRM],
     ["Confirm your address for feedsvc", "If it was you, confirm it", "ignore this mail"],
     ["确认你在 feedsvc 使用的邮箱地址", "如果是你本人，请确认", "请忽略这封邮件"]),
    ("password_reset", lambda **kw: mailtext.password_reset(RESET, **kw), [RESET],
     ["Reset your feedsvc password", "valid for 1 hour and works once",
      "If you did not ask for this, ignore this mail"],
     ["重置你的 feedsvc 密码", "1 小时内有效，只能使用一次", "如果这不是你的请求，请忽略这封邮件"]),
    ("signup_attempt", lambda **kw: mailtext.signup_attempt(LOGIN, RESET, **kw), [LOGIN, RESET],
     ["Someone tried to sign up with your address", "If it was you, log in",
      "reset your password"],
     ["有人尝试用你的地址注册", "如果是你本人，请直接登录", "重置我的密码"]),
    ("test_message", lambda **kw: mailtext.test_message(REMINDERS, unsubscribe_url=UNSUBSCRIBE,
                                                        **kw), [REMINDERS, UNSUBSCRIBE],
     ["Test from feedsvc: reminders reach this address", "This is a test message",
      "Stop reminders to this address"],
     ["feedsvc 测试：提醒能送达这个地址", "这是一封测试邮件", "不再向这个地址发送提醒"]),
]


@pytest.mark.parametrize(("make", "links", "english", "chinese"),
                         [case[1:] for case in ACCOUNT_MAILS],
                         ids=[case[0] for case in ACCOUNT_MAILS])
def test_each_account_mail_speaks_the_accounts_language(
        app: Flask, make: Callable[..., Mail], links: list[str], english: list[str],
        chinese: list[str]) -> None:
    with app.app_context():
        mails = {locale: make(to="anna@example.com", locale=locale)
                 for locale in ("en", "zh-Hans")}
    assert mails["en"].subject == english[0] and mails["zh-Hans"].subject == chinese[0]
    for locale, expected in (("en", english), ("zh-Hans", chinese)):
        mail = mails[locale]
        for part in (mail.text, visible(mail.html)):
            for words in expected[1:]:
                assert words in part, (locale, words)
        for link in links:
            assert link in mail.text and link in parsed_html(mail).hrefs, (locale, link)
    assert english_words(mails["zh-Hans"].text + visible(mails["zh-Hans"].html)) <= {
        "feedsvc", "SMTP"}, "English left in a Chinese mail"


def test_only_a_channels_mail_carries_an_unsubscribe_link(app: Flask) -> None:
    with app.app_context():
        assert mailtext.welcome(CONFIRM, to="a@example.com", locale="en").unsubscribe_url is None
        assert mailtext.test_message(REMINDERS, to="a@example.com", locale="en",
                                     unsubscribe_url=UNSUBSCRIBE).unsubscribe_url == UNSUBSCRIBE


def test_an_unknown_language_gets_english(app: Flask) -> None:
    with app.app_context():
        mail = mailtext.password_reset(RESET, to="a@example.com", locale="fr")
    assert mail.subject == "Reset your feedsvc password"


# ---- the catalog ---------------------------------------------------------------------------

def _msgids(method: str, pattern: str) -> set[str]:
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    return {message if isinstance(message, str) else message[0]
            for _file, _line, message, _comments, _context in extract_from_dir(
                str(PACKAGE), [(pattern, method)], keywords=keywords,
                options_map={pattern: {"extensions": "jinja2.ext.i18n"}})}


def test_every_text_of_the_plain_text_mails_is_in_what_pybabel_extracts() -> None:
    # babel.cfg extracts from Python and from the HTML templates only; a msgid that only a
    # .txt template used would be dropped from the catalog by the next `pybabel update`.
    text_only = _msgids("jinja2", "templates/mail/*.txt")
    assert len(text_only) > 20
    extracted = _msgids("python", "**.py") | _msgids("jinja2", "templates/**.html")
    assert not text_only - extracted, "use the HTML twin's words in the .txt template"


# ---- all the way through a real SMTP server --------------------------------------------------

def test_a_chinese_reminder_arrives_intact(app: Flask, smtp_server: SmtpServer,
                                           tmp_path: Path) -> None:
    mail = reminder(app, "zh-Hans")
    settings = mail_settings({"FEEDSVC_SMTP_URL": smtp_server.url(),
                              "FEEDSVC_BASE_URL": "https://feeds.example.org"})
    now = dt.datetime(2026, 12, 14, 9, 0, tzinfo=dt.UTC)
    with postman(settings, tmp_path) as post:
        post.send(build_message(mail, settings, now))
    [received] = smtp_server.received
    assert received.raw.isascii()
    message = message_from_bytes(received.raw, policy=policy.default)
    assert message["Subject"] == "续费 MTS Russia — 3 天后到期（12月17日）"
    assert message["List-Unsubscribe"] == f"<{LINKS.unsubscribe}>"
    plain = message.get_body(("plain",))
    rich = message.get_body(("html",))
    assert plain is not None and rich is not None
    # Lines end in CRLF on the wire; what they say is unchanged.
    assert plain.get_content().replace("\r\n", "\n") == mail.text
    assert rich.get_content().replace("\r\n", "\n").rstrip("\n") == mail.html.rstrip("\n")
