"""Child processes of the document-numbering tests (importable under `spawn`): recharges credited and
numbered from several threads, and deliberate deaths at a chosen step of the numbering protocol."""
from __future__ import annotations

import os
import queue
import signal
import threading

from services import clock, documents, ledger, procs
from services.documents import numbering
from tests.support.targets import open_spec

USERS = 7


def recharge_key(i: int) -> str:
    return f"razorpay:pay_doc{i:04d}"


def user_of(i: int) -> str:
    return f"cust{i % USERS}"


def recharge_and_number(db, i: int) -> None:
    """What a credited recharge goes through: the ledger credit, then its numbered document."""
    e = ledger.post(db, user_of(i), key=recharge_key(i), type="credit", category="recharge",
                    amount=10_000 + i, source=f"pay_doc{i:04d}")
    while documents.issue_for_entry(db, e) is None:  # another thread of ours is mid-way: wait for it
        pass


def recharge_many(spec: dict, indices: list[int], threads: int, out_q=None) -> None:
    """Credit and number the recharges `indices` from `threads` threads (all at once, as a burst)."""
    db = open_spec(spec)
    work: queue.Queue = queue.Queue()
    for i in indices:
        work.put(i)
    errors: list[str] = []

    def run():
        while True:
            try:
                i = work.get_nowait()
            except queue.Empty:
                return
            try:
                recharge_and_number(db, i)
            except BaseException as exc:  # noqa: BLE001 - reported to the parent
                errors.append(f"{i}: {type(exc).__name__}: {exc}")

    pool = [threading.Thread(target=run) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if out_q is not None:
        out_q.put(errors or "ok")
    elif errors:  # run as a script: a non-zero exit tells the parent
        raise SystemExit("\n".join(errors[:5]))


def die_at(spec: dict, entry_id: str, step: str) -> None:
    """Start numbering `entry_id` and die by SIGKILL after `step`: "claimed" (the claim is in, nothing
    allocated) or "allocated" (number and document in the series' pending, not yet recorded)."""
    db = open_spec(spec)
    e = ledger.get_entry(db, entry_id)
    fy = numbering.financial_year(clock.date_of(e["created_at"]))
    numbering.insert_new(db.doc_claims, {"_id": entry_id, "series": f"inv:{fy}", "number": None,
                                         "owner": procs.owner(), "at": clock.now()})
    if step == "allocated":
        body = documents.receipts._recharge_body(db, e, documents.business.get(db))
        numbering._allocate(db, entry_id, f"inv:{fy}", "RV", fy, body)
    os.kill(os.getpid(), signal.SIGKILL)


# ------------------------------------------------------------------------- refund vouchers under kills

REFUND_USER, REFUND_PAYMENT, REFUND_REF = "kilo", "pay_KillTest000001", "lnk_kill000000000001"


def refund_setup(db) -> None:
    """A customer with one recharge of Rs. 1,000 paid with 18 % GST on top (its record, its credit and its
    receipt voucher), for `refund_many` to refund Rs. 11.80 at a time (Rs. 10 of the wallet + its GST)."""
    from services import accounts, users
    from services.payments import crediting, records
    accounts.create_user(db, REFUND_USER, "password-1", "Kilo", "kilo@example.com")
    rec = records.build("link", users.get(db, REFUND_USER), 100_000, "sandbox", ref=REFUND_REF)
    rec["gst"] = {"mode": "exclusive", "rate_bp": 1800, "paise": 18_000}
    records.insert(db, rec)
    e = ledger.post(db, REFUND_USER, key=crediting.payment_key(REFUND_PAYMENT), type="credit", category="recharge",
                    amount=100_000, source=REFUND_PAYMENT,
                    meta={"reference_id": REFUND_REF, "gst_mode": "exclusive", "gst_rate_bp": 1800,
                          "gst_paise": 18_000})
    documents.issue_for_entry(db, e)


def refund_many(spec: dict, indices: list[int], threads: int) -> None:
    """Each refund reported twice (a duplicate webhook), then the customer's documents caught up, from
    `threads` threads."""
    from services.payments import refunds
    db = open_spec(spec)
    work: queue.Queue = queue.Queue()
    for i in indices:
        work.put(i)

    def run():
        while True:
            try:
                i = work.get_nowait()
            except queue.Empty:
                return
            refund = {"id": f"rfnd_Kill{i:014d}", "payment_id": REFUND_PAYMENT, "amount": 1_180,
                      "status": "processed"}
            for _ in range(2):
                refunds.record(db, refund, {"captured": True}, source="webhook", event="refund.processed")
            documents.catch_up(db, REFUND_USER)

    pool = [threading.Thread(target=run) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()


def test_certificate(path, password: str):
    """A self-signed signing certificate and key as PKCS#12 at `path` (a stand-in for a DSC); returns the
    certificate as pyHanko's validator takes a trust root."""
    from datetime import datetime, timedelta, timezone

    from asn1crypto import x509 as asn1_x509
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import NameOID
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Asha Rao (test DSC)")])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(26).not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, True, False, False, False, True, False, False, False), critical=True)
            .sign(key, hashes.SHA256()))
    path.write_bytes(pkcs12.serialize_key_and_certificates(
        b"dsc", key, cert, None, serialization.BestAvailableEncryption(password.encode())))
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
