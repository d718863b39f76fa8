"""Values the deal tab's page carries for the server, signed (django.core.signing) so they come
back unaltered: the loaded state, the rows an Undo restores, and the catalog products offered in
the search list. Each is bound to its portal, user or deal where that matters."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.core import signing

from widgets.common.auth import StateInvalid
from widgets.common.money import CurrencyFormat, decimal_of
from widgets.products.state import DealSnapshot, TabState, WireRow

STATE_SALT = "dealdesk.tab.state"
UNDO_SALT = "dealdesk.tab.undo"
PRODUCT_SALT = "dealdesk.tab.product"


def state_sign(state: TabState) -> str:
    deal = state.deal
    payload = {
        "p": state.portal_id,
        "u": state.user_id,
        "a": state.is_admin,
        "deal": {
            "id": deal.id,
            "title": deal.title,
            "cur": deal.currency.as_dict(),
            "manual": deal.manual_amount,
            "opp": str(deal.opportunity),
            "dm": deal.date_modify,
            "stage": [deal.stage_name, deal.stage_color, deal.stage_semantics],
            "funnel": deal.funnel_name,
            "amount_title": deal.amount_title,
        },
        "rows": [row.as_dict() for row in state.rows],
        "fp": state.fingerprint,
    }
    return signing.dumps(payload, salt=STATE_SALT, compress=True)


def state_read(value: str, *, portal_id: int, user_id: int, deal_id: int) -> TabState:
    try:
        data = signing.loads(value, salt=STATE_SALT)
        deal = data["deal"]
        stage_name, stage_color, stage_semantics = deal["stage"]
        state = TabState(
            portal_id=int(data["p"]),
            user_id=int(data["u"]),
            is_admin=bool(data.get("a")),
            deal=DealSnapshot(
                id=int(deal["id"]),
                title=str(deal["title"]),
                currency=CurrencyFormat.from_dict(deal["cur"]),
                manual_amount=bool(deal["manual"]),
                opportunity=decimal_of(deal["opp"]),
                date_modify=str(deal["dm"]),
                stage_name=stage_name,
                stage_color=stage_color,
                stage_semantics=stage_semantics,
                funnel_name=str(deal["funnel"]),
                amount_title=str(deal["amount_title"]),
            ),
            rows=tuple(WireRow.from_dict(row) for row in data["rows"]),
            fingerprint=str(data["fp"]),
        )
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise StateInvalid(type(exc).__name__) from exc
    if (state.portal_id, state.user_id, state.deal.id) != (portal_id, user_id, deal_id):
        raise StateInvalid("state of another portal, user or deal")
    return state


def undo_sign(*, deal_id: int, rows: list[WireRow]) -> str:
    return signing.dumps({"d": deal_id, "rows": [r.as_dict() for r in rows]}, salt=UNDO_SALT, compress=True)


def undo_read(value: str, *, deal_id: int) -> list[WireRow]:
    try:
        data = signing.loads(value, salt=UNDO_SALT)
        rows = [WireRow.from_dict(row) for row in data["rows"]]
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise StateInvalid(type(exc).__name__) from exc
    if data.get("d") != deal_id:
        raise StateInvalid("undo of another deal")
    return rows


# --- catalog products chosen in the search list ----------------------------------------------------


@dataclass(frozen=True)
class ProductChoice:
    """A catalog product as crm.product.list described it, signed into the option's button."""

    id: int
    name: str
    price: Decimal
    currency: str
    measure_code: int | None
    measure_name: str

    def sign(self) -> str:
        data = [self.id, self.name, str(self.price), self.currency, self.measure_code, self.measure_name]
        return signing.dumps(data, salt=PRODUCT_SALT, compress=True)

    @classmethod
    def read(cls, value: str) -> ProductChoice:
        try:
            pid, name, price, currency, code, measure = signing.loads(value, salt=PRODUCT_SALT)
            return cls(int(pid), str(name), decimal_of(price), str(currency), code, str(measure))
        except (signing.BadSignature, TypeError, ValueError) as exc:
            raise StateInvalid(type(exc).__name__) from exc
