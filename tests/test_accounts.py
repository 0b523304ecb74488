"""Accounts, members, invitations, API keys and their cap alerts (services.accounts, services.invites,
services.alerts.keycaps), below the API: the e-mail path of an invitation to the SMTP sink and its link
used once within 7 days; racing owners never leave an account without one; racing acceptances join once;
rotation's overlap; every member and key change in the account's trail and the admin's audit log with
its address; the cap alerts of a key once per crossing on the account's own channels; the backfill."""
from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest

from services import accounts, alerts, audit, calls, clock, invites, ledger
from services.accounts import Acting, invitations, keys, migrate, teams, trail
from services.alerts import keycaps
from services.errors import AuthError, Conflict, Forbidden, InvalidAmount, InvalidInput, NotFound, SpendCapReached
from tests.support.alerts import subscribe

PW = "correct-horse-27"


def _people(db, *names):
    for n in names:
        accounts.create_user(db, n, PW, n.title(), f"{n}@example.com")


def _token_of(mail: dict) -> str:
    return re.search(r"invite=([A-Za-z0-9_.\-]+)", mail["text"]).group(1)


def test_an_invitation_goes_by_the_alerts_mail_path_and_its_link_works_once(edb, wired):
    mails, _, _ = wired
    db = edb
    _people(db, "olga", "ravi")
    owner = teams.acting(db, "olga", "olga")
    inv = invites.invite(db, owner, "Ravi@Example.com", "developer", address="203.0.113.9")
    assert "token" not in str(inv) and inv["email"] == "ravi@example.com"
    assert alerts.run(db)["sent"] == 1
    [mail] = mails.messages()
    assert mail["rcpt_tos"] == ["ravi@example.com"] and "invited you to Olga" in mail["subject"]
    assert "as Developer" in mail["text"] and "Accept the invitation: http" in mail["text"]
    token = _token_of(mail)
    assert token.startswith(inv["id"] + ".")
    assert db.invitations.find_one({"_id": inv["id"]})["token_hash"] != token  # only its hash is kept
    with pytest.raises(InvalidInput):
        invitations.accept(db, token[:-2] + "xx", "ravi")  # a forged link
    got = invitations.accept(db, token, "ravi", address="198.51.100.7")
    assert got == {"account": "olga", "name": "Olga", "role": "developer"}
    assert teams.memberships(db, "ravi") == [{"id": "ravi", "name": "Ravi", "role": "owner"},
                                             {"id": "olga", "name": "Olga", "role": "developer"}]
    with pytest.raises(Conflict, match="used already"):
        invitations.accept(db, token, "ravi")
    rows = trail.of_account(db, owner)
    assert sorted((r["action"], r["actor"], r["address"]) for r in rows) == [
        ("Invited a member", "olga", "203.0.113.9"), ("Joined the account", "ravi", "198.51.100.7")]


def test_an_invitation_expires_after_seven_days_needs_the_invited_address_and_can_be_withdrawn(edb, monkeypatch):
    db = edb
    _people(db, "olga", "ravi", "mallory")
    owner = teams.acting(db, "olga", "olga")
    inv, token = invitations.invite(db, owner, "ravi@example.com", "viewer")
    with pytest.raises(Forbidden, match=r"ravi@example\.com"):
        invitations.accept(db, token, "mallory")  # a forwarded link, another person
    t = clock.now()
    monkeypatch.setattr(clock, "now", lambda: t + timedelta(days=7, seconds=1))
    with pytest.raises(Conflict, match="expired"):
        invitations.accept(db, token, "ravi")
    monkeypatch.setattr(clock, "now", lambda: t + timedelta(days=6, hours=23))
    inv2, token2 = invitations.invite(db, owner, "ravi@example.com", "finance")  # again: replaces the first
    with pytest.raises(Conflict, match="withdrawn"):
        invitations.accept(db, token, "ravi")
    invitations.revoke(db, owner, inv2["id"])
    with pytest.raises(Conflict, match="withdrawn"):
        invitations.accept(db, token2, "ravi")
    assert invitations.pending(db, "olga") == [] and teams.role_of(db, "olga", "ravi") is None
    with pytest.raises(Forbidden):  # only owners invite
        invitations.invite(db, Acting("olga", "viewer", person="ravi"),
                           "x@example.com", "owner")
    with pytest.raises(InvalidInput):
        invitations.invite(db, owner, "not-an-address", "viewer")
    with pytest.raises(InvalidInput):
        invitations.invite(db, owner, "x@example.com", "emperor")


def test_two_people_racing_with_one_link_join_once(edb):
    db = edb
    _people(db, "olga", "ravi")
    accounts.create_user(db, "ravi2", PW, "Ravi Two", "ravi@example.com")  # the same address, another login
    _, token = invitations.invite(db, teams.acting(db, "olga", "olga"), "ravi@example.com", "viewer")
    gate, out = threading.Barrier(2), []

    def accept(who):
        gate.wait()
        try:
            out.append(invitations.accept(db, token, who)["role"])
        except Conflict:
            out.append("refused")
    ts = [threading.Thread(target=accept, args=(w,)) for w in ("ravi", "ravi2")]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert sorted(out) == ["refused", "viewer"]
    assert sum(teams.role_of(db, "olga", w) is not None for w in ("ravi", "ravi2")) == 1


def test_two_owners_demoting_each_other_at_once_leave_one_owner(edb):
    db = edb
    _people(db, "olga", "otto")
    for round_ in range(5):
        teams.add(db, "olga", "otto", "owner", by="olga")
        teams.set_role(db, "olga", "otto", "owner", by="olga")
        teams.set_role(db, "olga", "olga", "owner", by="otto")
        gate, out = threading.Barrier(2), []

        def demote(who, by, gate=gate, out=out):
            gate.wait()
            try:
                teams.set_role(db, "olga", who, "viewer", by=by)
                out.append("done")
            except Conflict:
                out.append("refused")
        ts = [threading.Thread(target=demote, args=a) for a in (("olga", "otto"), ("otto", "olga"))]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        assert sorted(out) == ["done", "refused"], round_
        owners = [m for m in teams.members(db, "olga") if m["role"] == "owner"]
        assert len(owners) == 1


def test_rotation_keeps_the_old_key_for_its_overlap_and_not_a_second_more(edb, monkeypatch):
    db = edb
    _people(db, "olga")
    owner = teams.acting(db, "olga", "olga")
    old, old_secret = keys.create(db, owner, "voice", ["calls"], daily_cap="100", monthly_cap="1,500",
                                  max_concurrent_calls=4)
    new, new_secret, old_after = keys.rotate(db, owner, old.id, 10)
    assert (new.scopes, new.daily_cap_paise, new.monthly_cap_paise, new.max_concurrent_calls) == (
        ("calls",), 10_000, 150_000, 4)
    assert new.rotated_from == old.prefix and new_secret != old_secret
    t = clock.now()
    monkeypatch.setattr(clock, "now", lambda: t + timedelta(minutes=9, seconds=59))
    assert keys.resolve(db, old_secret).id == old.id and keys.resolve(db, new_secret).id == new.id
    monkeypatch.setattr(clock, "now", lambda: t + timedelta(minutes=10, seconds=1))
    with pytest.raises(AuthError, match="expired"):
        keys.resolve(db, old_secret)
    assert keys.resolve(db, new_secret).id == new.id
    with pytest.raises(AuthError):  # a key never goes near the password throttle
        keys.resolve(db, "wk_test_" + old.id + "_" + "x" * 43)
    assert db.login_attempts.count_documents({}) == 0


@pytest.mark.parametrize("bad", [dict(name="", scopes=["calls"]), dict(name="k", scopes=[]),
                                 dict(name="k", scopes=["admin"]), dict(name="k\u202e", scopes=["calls"]),
                                 dict(name="k", scopes=["calls"], daily_cap="99,50"),
                                 dict(name="k", scopes=["calls"], daily_cap="500", monthly_cap="100"),
                                 dict(name="k", scopes=["calls"], max_concurrent_calls=0),
                                 dict(name="k", scopes=["calls"], expires_at=clock.now() - timedelta(minutes=1))])
def test_a_bad_key_is_refused_and_writes_nothing(edb, bad):
    db = edb
    _people(db, "olga")
    with pytest.raises((InvalidInput, InvalidAmount)):
        keys.create(db, teams.acting(db, "olga", "olga"), **bad)
    assert db.api_keys.count_documents({}) == 0 and trail.of_account(db, teams.acting(db, "olga", "olga")) == []


def test_every_member_and_key_change_is_in_the_admins_audit_log_with_its_address(edb):
    db = edb
    _people(db, "olga", "ravi")
    owner = teams.acting(db, "olga", "olga")
    _, token = invitations.invite(db, owner, "ravi@example.com", "developer", address="203.0.113.9")
    invitations.accept(db, token, "ravi", address="198.51.100.7")
    k, _ = keys.create(db, teams.acting(db, "olga", "ravi"), "voice", ["calls"], address="198.51.100.7")
    keys.rotate(db, owner, k.id, 5, address="203.0.113.9")
    keys.revoke(db, owner, k.id, address="203.0.113.9")
    teams.set_role(db, "olga", "ravi", "viewer", by="olga", address="203.0.113.9")
    teams.remove(db, "olga", "ravi", by="ravi", address="198.51.100.7")
    rows = audit.entries(db, audit.query(kind="team"))
    got = [(r["actor"], r["action"], r["target"].split(": ")[0], r["what"].rsplit("(from ", 1)[1]) for r in rows]
    assert sorted(got) == sorted([("ravi", "Left the account", "olga", "198.51.100.7)"),
                   ("olga", "Changed a member's role", "olga", "203.0.113.9)"),
                   ("olga", "Revoked an API key", "olga", "203.0.113.9)"),
                   ("olga", "Rotated an API key", "olga", "203.0.113.9)"),
                   ("olga", "Created an API key", "olga", "203.0.113.9)"),  # the rotation's new key
                   ("ravi", "Created an API key", "olga", "198.51.100.7)"),
                   ("ravi", "Joined the account", "olga", "198.51.100.7)"),
                   ("olga", "Invited a member", "olga", "203.0.113.9)")])
    assert len(trail.of_account(db, owner)) == len(rows)
    with pytest.raises(Forbidden):  # the trail is the owners'
        trail.of_account(db, Acting("olga", "developer", person="ravi"))


def test_a_keys_cap_alerts_at_80_and_100_percent_once_each_on_the_accounts_channels(edb, wired):
    mails, rcv, _ = wired
    db = edb
    _people(db, "olga")
    subscribe(db, "olga", rcv)
    ledger.post(db, "olga", key="seed", type="credit", category="promo_credit", amount=100_000)
    k, _ = keys.create(db, teams.acting(db, "olga", "olga"), "voice", ["calls"], daily_cap="100")
    alerts.run(db)  # the credit itself alerts nothing; start clean
    sent_before = len(mails.messages())

    def call(seconds):
        c = calls.start_call(db, "olga", "+919876543210", "kb1", 10, key_id=k.id)
        if seconds > c["authorized_seconds"]:  # the platform reports usage: the next slice, as the cap allows
            calls.update_call(db, "olga", c["call_id"], 290)
        assert calls.end_call(db, "olga", c["call_id"], seconds)["billed_seconds"] == seconds
    call(420)  # Rs. 70
    assert keycaps.derive(db) == 0
    call(60)   # Rs. 80: 80 %
    assert keycaps.derive(db) == 1 and keycaps.derive(db) == 0
    call(60)   # Rs. 90: left Rs. 10, still enough to start a call
    assert keycaps.derive(db) == 0
    call(30)   # Rs. 95: too little left to start one: the cap is reached
    assert keycaps.derive(db) == 1
    with pytest.raises(SpendCapReached, match=r"daily cap of Rs\. 100\.00"):
        calls.start_call(db, "olga", "+919876543210", "kb1", 10, key_id=k.id)
    alerts.run(db)
    subjects = [m["subject"].strip() for m in mails.messages()[sent_before:]]  # a long subject is folded
    assert subjects == [f"API key voice ({k.prefix}) has used 80% of its daily cap",
                     f"API key voice ({k.prefix}) reached its daily cap of Rs. 100.00"]
    hooks = [e for e in rcv.events("olga") if e["type"] == "wallet.key_cap"]
    assert [e["body"]["data"]["notice"]["level"] for e in hooks] == [80, 100] and all(e["signature_ok"] for e in hooks)
    assert keycaps.derive(db) == 0 and ledger.audit(db) == []


def test_the_backfill_runs_once_and_heals_a_person_without_their_account(edb):
    db = edb
    assert migrate.backfill(db) == 0  # a new database: marked done by the first start
    _people(db, "olga")
    db.accounts.delete_one({"_id": "olga"})  # a crash between the user and their account
    with pytest.raises(NotFound):
        teams.acting(db, "olga", "olga")  # (remembered for a moment by this process)
    assert teams.default_account(db, "olga") == "olga" and teams.role_of(db, "olga", "olga") == "owner"
    assert teams.acting(db, "olga", "olga").role == "owner"  # at once, not after the cache's half second
    db.accounts_meta.delete_many({})
    db.accounts.delete_many({})
    assert migrate.backfill(db) == 1 and migrate.backfill(db) == 0
    with pytest.raises(NotFound):
        teams.acting(db, "olga", "nobody")


def test_spend_per_key_in_the_exports_and_over_any_period(edb):
    import csv
    import io

    from services import reports, spending
    db = edb
    _people(db, "olga")
    ledger.post(db, "olga", key="seed", type="credit", category="promo_credit", amount=100_000)
    owner = teams.acting(db, "olga", "olga")
    a, _ = keys.create(db, owner, "voice-a", ["calls"])
    b, _ = keys.create(db, owner, "voice-b", ["calls"])
    for key, seconds in ((a, 60), (b, 120), (a, 30), (None, 90)):
        c = calls.start_call(db, "olga", "+919876543210", "kb1", 5, key_id=key.id if key else None)
        calls.end_call(db, "olga", c["call_id"], seconds)
    rows = list(csv.DictReader(io.StringIO("".join(reports.export_csv(db, user_id="olga")))))
    assert [r["api_key"] for r in rows if r["type"] == "debit"] == [
        f"voice-a ({a.prefix})", f"voice-b ({b.prefix})", f"voice-a ({a.prefix})", ""]
    assert list(rows[0])[-1] == "api_key"  # a new column goes last: positional readers keep working
    calls_rows = list(csv.DictReader(io.StringIO("".join(reports.calls_csv(db, "olga", calls.filters())))))
    assert sorted(r["api_key"] for r in calls_rows) == sorted(["", f"voice-a ({a.prefix})", f"voice-a ({a.prefix})",
                                                               f"voice-b ({b.prefix})"])
    today = clock.today()
    assert spending.key_totals(spending.daily(db, "olga", today - timedelta(days=29), today)) == {
        b.id: 2_000, a.id: 1_500}
    assert {k.name: (k.spent_today_paise, k.spent_month_paise) for k in keys.list_keys(db, "olga")} == {
        "voice-a": (1_500, 1_500), "voice-b": (2_000, 2_000)}
