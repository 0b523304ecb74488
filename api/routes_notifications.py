"""The signed-in customer's low-balance alerts: where they go (thresholds, runway, e-mails, webhook), the
webhook's secret, a test event, the delivery log and the alerts sent. Rules live in services.alerts."""
from __future__ import annotations

from fastapi import APIRouter, Query

from api.deps import DB, AlertsRead, AlertsWrite, ExactRoute
from api.schemas import (AlertOut, AlertsOut, DeliveriesOut, DeliveryOut, NotificationsIn, NotificationsOut,
                         WebhookTestOut, ThresholdOut)
from services import alerts, settings

router = APIRouter(prefix="/api/notifications", tags=["notifications"], route_class=ExactRoute)


def _out(db, p: alerts.Prefs, *, secret: bool = True) -> NotificationsOut:
    lines = [ThresholdOut(amount_paise=settings.get(db)["low_balance_paise"], source="platform")]
    lines += [ThresholdOut(amount_paise=t, source="yours") for t in p.thresholds]
    return NotificationsOut(thresholds=lines, runway_days=p.runway_days, emails=list(p.emails),
                            emails_default=not p.emails_set, webhook_url=p.webhook_url,
                            webhook_secret=p.webhook_secret if secret else "")


@router.get("", response_model=NotificationsOut)
def get_settings(acct: AlertsRead, db: DB):
    """The account's alert settings (the platform's threshold is listed with yours; zero always alerts).
    The webhook's secret only for members who may change the alerts."""
    return _out(db, alerts.get_prefs(db, acct.account), secret=acct.may("alerts:write"))


@router.put("/settings", response_model=NotificationsOut)
def update_settings(body: NotificationsIn, acct: AlertsWrite, db: DB):
    """Change your alert settings; bad input changes nothing. Setting a webhook URL the first time makes
    its signing secret."""
    return _out(db, alerts.update(db, acct.account, thresholds=body.thresholds, runway_days=body.runway_days,
                                  emails=body.emails, webhook_url=body.webhook_url))


@router.post("/webhook/rotate-secret", response_model=NotificationsOut)
def rotate_secret(acct: AlertsWrite, db: DB):
    return _out(db, alerts.rotate_secret(db, acct.account))


@router.post("/webhook/test", response_model=WebhookTestOut)
def send_test_event(acct: AlertsWrite, db: DB):
    """Send one signed `wallet.test` event to your webhook now (logged like every delivery)."""
    return WebhookTestOut(**alerts.send_test(db, acct.account))


@router.get("/webhook/deliveries", response_model=DeliveriesOut)
def deliveries(acct: AlertsRead, db: DB, limit: int = Query(100, ge=1, le=200)):
    """Every try to deliver to your webhook, newest first: when, which event, the answer."""
    return DeliveriesOut(deliveries=[DeliveryOut.model_validate(r)
                                     for r in alerts.delivery_log(db, acct.account, limit)])


@router.get("/alerts", response_model=AlertsOut)
def my_alerts(acct: AlertsRead, db: DB, limit: int = Query(50, ge=1, le=200)):
    """The alerts your wallet raised, newest first, with each channel's state and the recharge link."""
    return AlertsOut(alerts=[AlertOut.model_validate(a) for a in alerts.of_user(db, acct.account, limit)])
