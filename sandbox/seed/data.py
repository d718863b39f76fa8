"""The static tables the sandbox portal is seeded from (see sandbox.seed for how they are used).

Names of people and companies are fictional. Phone numbers come from ranges reserved for fiction
(US 555-01xx, UK Ofcom drama numbers) and e-mail domains use the reserved `.example` TLD, so a
demo never calls or mails anybody real.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

# The portal's "now": every date in the seed is an offset from it, so reseeding is reproducible.
BASE_TIME = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
RANDOM_SEED = 2024
MEMBER_ID = "5d1f0c3a9b8e47c2a6f03e1b7d4c9a20"
LICENSE = "en_pro100"

PCS = (796, "pcs")
HOURS = (356, "h")  # OKEI code of the hour, as in Bitrix24 catalog measures


@dataclass(frozen=True)
class UserSpec:
    id: int
    name: str
    last_name: str
    role: str
    work_position: str
    department_ids: tuple[int, ...]
    gender: str
    time_zone: str
    registered_days_ago: int


USERS = (
    UserSpec(1, "Anna", "Adams", "admin", "IT administrator", (1,), "F", "Europe/Berlin", 900),
    UserSpec(2, "Mark", "Brennan", "manager", "Head of Sales", (5,), "M", "Europe/Berlin", 850),
    UserSpec(3, "Sofia", "Ortiz", "rep", "Account executive", (5, 6), "F", "America/New_York", 610),
    UserSpec(4, "Daniel", "Kim", "rep", "Account executive", (5, 6), "M", "America/New_York", 480),
    UserSpec(5, "Olivia", "Grant", "readonly", "Finance controller", (7,), "F", "Europe/London", 300),
)
USER_EMAIL_DOMAIN = "dealdesk-demo.example"
SALES_USER_IDS = (2, 3, 4)


@dataclass(frozen=True)
class CurrencySpec:
    code: str
    full_name: str
    amount: Decimal  # price of `amount_cnt` units in the base currency (USD)
    amount_cnt: int
    sort: int
    base: bool
    format_string: str
    dec_point: str
    thousands_sep: str | None


CURRENCIES = (
    CurrencySpec("USD", "US Dollar", Decimal("1.0000"), 1, 100, True, "$#", ".", ","),
    # Bitrix24 really sends the HTML entity here, not a space character.
    CurrencySpec("EUR", "Euro", Decimal("1.0850"), 1, 200, False, "# €", ",", "&nbsp;"),
    CurrencySpec("RUB", "Russian Ruble", Decimal("1.1800"), 100, 300, False, "# ₽", ",", " "),
)
CURRENCY_BY_CODE = {c.code: c for c in CURRENCIES}

# (id, name, sort, is_default)
CATEGORIES = ((0, "General", 100, True), (1, "Enterprise", 200, False), (2, "Partners", 300, False))


@dataclass(frozen=True)
class StageSpec:
    status_id: str  # without the C<n>: prefix
    semantics: str  # "" in progress, S success, F failure
    color: str
    probability: int


STAGES = (
    StageSpec("NEW", "", "#39A8EF", 10),
    StageSpec("PREPARATION", "", "#2FC6F6", 25),
    StageSpec("PREPAYMENT_INVOICE", "", "#55D0E0", 40),
    StageSpec("EXECUTING", "", "#47E4C2", 60),
    StageSpec("FINAL_INVOICE", "", "#FFA900", 80),
    StageSpec("WON", "S", "#7BD500", 100),
    StageSpec("LOSE", "F", "#FF5752", 0),
    StageSpec("APOLOGY", "F", "#FF5752", 0),
)
SYSTEM_STAGES = frozenset({"NEW", "WON", "LOSE"})
# The names Bitrix24 gives a new portal (NAME_INIT of the system stages).
DEFAULT_STAGE_NAMES = {
    "NEW": "New",
    "PREPARATION": "Preparing documents",
    "PREPAYMENT_INVOICE": "Prepayment invoice",
    "EXECUTING": "In progress",
    "FINAL_INVOICE": "Final invoice",
    "WON": "Deal won",
    "LOSE": "Deal lost",
    "APOLOGY": "Analyze failure",
}
# Funnels other than the default one are usually renamed by the portal's admin.
STAGE_NAMES: dict[int, dict[str, str]] = {
    0: DEFAULT_STAGE_NAMES,
    1: {
        "NEW": "Qualification",
        "PREPARATION": "Solution design",
        "PREPAYMENT_INVOICE": "Proposal sent",
        "EXECUTING": "Negotiation",
        "FINAL_INVOICE": "Contract signing",
        "WON": "Contract won",
        "LOSE": "Lost to competitor",
        "APOLOGY": "No budget",
    },
    2: {
        "NEW": "Partner lead",
        "PREPARATION": "Quote requested",
        "PREPAYMENT_INVOICE": "Quote sent",
        "EXECUTING": "Order placed",
        "FINAL_INVOICE": "Invoiced",
        "WON": "Paid",
        "LOSE": "Cancelled",
        "APOLOGY": "Duplicate request",
    },
}

DEAL_TYPES = (
    ("SALE", "Sales"),
    ("COMPLEX", "Complex sale"),
    ("GOODS", "Sale of goods"),
    ("SERVICES", "Services"),
    ("SERVICE", "After-sales service"),
)
SOURCES = (
    ("CALL", "Call"),
    ("EMAIL", "E-Mail"),
    ("WEB", "Website"),
    ("ADVERTISING", "Advertising"),
    ("PARTNER", "Existing client"),
    ("RECOMMENDATION", "By recommendation"),
    ("TRADE_SHOW", "Show/Exhibition"),
    ("WEBFORM", "CRM form"),
    ("OTHER", "Other"),
)
CONTACT_TYPES = (
    ("CLIENT", "Clients"),
    ("SUPPLIER", "Suppliers"),
    ("PARTNER", "Partners"),
    ("OTHER", "Other"),
)

UF_CONTRACT = "UF_CRM_1700000000001"
UF_DELIVERY = "UF_CRM_1700000000002"
DELIVERY_TERMS = [
    {"ID": "1", "VALUE": "EXW"},
    {"ID": "2", "VALUE": "FOB"},
    {"ID": "3", "VALUE": "DAP"},
]
# (field_name, user_type_id, label, sort, items)
USER_FIELDS: tuple[tuple[str, str, str, int, list[dict[str, str]]], ...] = (
    (UF_CONTRACT, "string", "Contract number", 100, []),
    (UF_DELIVERY, "enumeration", "Delivery terms", 110, DELIVERY_TERMS),
)


@dataclass(frozen=True)
class ProductSpec:
    name: str
    price: str
    currency: str = "USD"
    vat_rate: int | None = None
    vat_included: str = "N"
    measure: tuple[int, str] = PCS
    type: int = 1  # 1 product, 7 service


SERVICE = 7
PRODUCTS = (
    # Software
    ProductSpec("CRM Professional licence, 1 user / year", "360.00"),
    ProductSpec("CRM Enterprise licence, 1 user / year", "720.00"),
    ProductSpec("Analytics add-on, 1 user / year", "149.00"),
    ProductSpec("Telephony connector licence", "89.90"),
    ProductSpec("Cloud storage 1 TB / year", "119.99"),
    ProductSpec("Antivirus Business, 10 seats / year", "249.50", vat_rate=20, vat_included="Y"),
    ProductSpec("Office suite licence, 1 user / year", "99.00"),
    ProductSpec("Backup software, server licence", "1299.00", vat_rate=10),
    ProductSpec("Database server licence, per core", "1850.00", currency="EUR", vat_rate=20),
    ProductSpec("Wildcard SSL certificate, 1 year", "199.00"),
    # Hardware
    ProductSpec('Laptop 14" i7 / 16 GB / 512 GB SSD', "1349.00", vat_rate=20, vat_included="Y"),
    ProductSpec('Monitor 27" 4K IPS', "389.99", vat_rate=20, vat_included="Y"),
    ProductSpec("USB-C docking station", "179.00"),
    ProductSpec("Wireless keyboard and mouse set", "49.95"),
    ProductSpec("Network switch, 24-port PoE", "429.00", vat_rate=10),
    ProductSpec("Wi-Fi 6 access point", "219.00"),
    ProductSpec("Rack server 1U, 2x Xeon, 64 GB RAM", "4890.00", vat_rate=20),
    ProductSpec("NAS 4-bay, 16 TB", "1189.00", currency="EUR"),
    ProductSpec("UPS 1500 VA, line-interactive", "329.00"),
    ProductSpec("IP desk phone", "139.00"),
    ProductSpec("Noise-cancelling USB headset", "84.50"),
    ProductSpec("Thermal label printer", "259.00", currency="EUR", vat_rate=20, vat_included="Y"),
    # Services
    ProductSpec("Implementation consulting", "120.00", measure=HOURS, type=SERVICE),
    ProductSpec("Data migration service", "2400.00", type=SERVICE),
    ProductSpec("On-site installation", "95.00", measure=HOURS, type=SERVICE, vat_rate=20),
    ProductSpec("Administrator training, half-day session", "650.00", type=SERVICE),
    ProductSpec("Premium support, 1 month", "499.00", type=SERVICE),
    ProductSpec("Custom report development", "135.00", measure=HOURS, type=SERVICE, vat_rate=10),
    ProductSpec("Support hotline, 1 year", "45000.00", currency="RUB", type=SERVICE, vat_rate=20),
    ProductSpec("Extended hardware warranty, 3 years", "149.00", type=SERVICE),
)

# Rows typed straight into a deal, not picked from the catalog (PRODUCT_ID 0).
FREE_TEXT_ROWS: tuple[tuple[str, str, tuple[int, str]], ...] = (
    ("ERP integration (custom work)", "110.00", HOURS),
    ("Travel and accommodation", "850.00", PCS),
    ("Express delivery", "65.00", PCS),
    ("Project management", "90.00", HOURS),
    ("Legacy data clean-up", "1250.00", PCS),
    ("Cable management kit", "38.40", PCS),
)


@dataclass(frozen=True)
class CompanySpec:
    name: str
    domain: str
    country: str  # US or GB: picks the phone ranges
    area_code: str


COMPANIES = (
    CompanySpec("Northwind Traders", "northwind-traders.example", "US", "212"),
    CompanySpec("Contoso", "contoso.example", "US", "415"),
    CompanySpec("Fabrikam", "fabrikam.example", "US", "312"),
    CompanySpec("Tailspin Toys", "tailspintoys.example", "US", "617"),
    CompanySpec("Adventure Works", "adventure-works.example", "US", "206"),
    CompanySpec("Wide World Importers", "wideworldimporters.example", "US", "512"),
    CompanySpec("Litware", "litware.example", "US", "303"),
    CompanySpec("Proseware", "proseware.example", "US", "404"),
    CompanySpec("Blue Yonder Airlines", "blueyonderairlines.example", "US", "305"),
    CompanySpec("Alpine Ski House", "alpineskihouse.example", "GB", ""),
    CompanySpec("Coho Winery", "cohowinery.example", "GB", ""),
    CompanySpec("Fourth Coffee", "fourthcoffee.example", "GB", ""),
    CompanySpec("Lucerne Publishing", "lucernepublishing.example", "GB", ""),
    CompanySpec("Trey Research", "treyresearch.example", "US", "617"),
    CompanySpec("Woodgrove Bank", "woodgrovebank.example", "GB", ""),
)

FIRST_NAMES = (
    "James", "Maria", "Robert", "Linda", "Michael", "Priya", "David", "Elena", "Thomas", "Aisha",
    "Lukas", "Hannah", "Carlos", "Mei", "Oliver", "Fatima", "Noah", "Ingrid", "Samuel", "Chloe",
    "Ethan", "Yuki", "Patrick", "Sara", "Mateo", "Olga", "Henry", "Nadia", "Victor", "Grace",
)  # fmt: skip
LAST_NAMES = (
    "Anderson", "Becker", "Chen", "Dubois", "Evans", "Fischer", "Garcia", "Hughes", "Jensen",
    "Kowalski", "Larsen", "Moreau", "Novak", "O'Connor", "Patel", "Quinn", "Rossi", "Schmidt",
    "Tanaka", "Usman", "Varga", "Walsh", "Young", "Zimmermann", "Nakamura", "Okafor",
    "Lindqvist", "Romero", "Hoffmann", "Dalton",
)  # fmt: skip
POSTS = (
    "Head of Procurement", "IT Director", "CFO", "Purchasing Manager", "Operations Manager",
    "CTO", "Office Manager", "Systems Administrator", "Project Manager", "Finance Controller",
    "Chief Executive Officer", "Facilities Manager", "Head of IT Infrastructure",
    "Procurement Specialist", "",
)  # fmt: skip
CONTACT_COMMENTS = (
    "Prefers e-mail over calls.",
    "Decision maker for IT purchases.",
    "Met at the Berlin trade show.",
    "Signs off budgets above $50k.",
)

CONTACT_COUNT = 60
# Contacts without any phone or e-mail.
CONTACTS_WITHOUT_CHANNELS = frozenset({9, 26, 44, 58})
# Two colleagues who give the same office switchboard number...
SHARED_PHONE_CONTACTS = (14, 37)
# ...and two buyers who write from the same shared purchasing mailbox.
SHARED_EMAIL_CONTACTS = (21, 52)

DEAL_COUNT = 50
# (funnel id, weight) for the deals beyond one per stage of every funnel.
FUNNEL_WEIGHTS = ((0, 6), (1, 3), (2, 2))
IN_PROGRESS_WEIGHT = 3  # in-progress stages are this much likelier than closed ones
CURRENCY_WEIGHTS = (("USD", 14), ("EUR", 4), ("RUB", 2))
CONTACT_COUNT_WEIGHTS = ((0, 2), (1, 7), (2, 6), (3, 3), (4, 2))
ROW_COUNT_WEIGHTS = ((1, 3), (2, 4), (3, 4), (4, 3), (5, 2), (6, 1))
MANY_CONTACTS = 12  # more than the ten contacts a deal card shows at once
DEALS_WITH_MANY_CONTACTS = frozenset({7, 23, 44})
DEALS_WITH_MANUAL_OPPORTUNITY = frozenset({11, 29, 46})
DEALS_WITHOUT_ROWS = (4, 15, 26, 38, 49)
# Typed-in amounts of the deals without rows (the values of the crm.deal.list doc sample).
MANUAL_AMOUNTS = ("19999.99", "20000.00", "12500.00", "13500.00", "11500.00", "18500.00")


@dataclass(frozen=True)
class RecurrenceSpec:
    deal_id: int
    subject: str
    period: str  # PARAMS.MULTIPLE_TYPE
    interval: int
    counter_repeat: int
    next_in_days: int
    last_days_ago: int | None
    is_limit: str  # N none, D until a date, T a number of times
    limit_repeat: int | None = None
    limit_in_days: int | None = None


RECURRENCES = (
    RecurrenceSpec(18, "Monthly managed IT support", "month", 1, 3, 28, 2, "T", limit_repeat=12),
    RecurrenceSpec(40, "Quarterly licence true-up", "month", 3, 0, 45, None, "D", limit_in_days=365),
)

DEAL_SUBJECTS: dict[int, tuple[str, ...]] = {
    0: (
        "CRM licences renewal",
        "Office hardware refresh",
        "New branch IT setup",
        "Backup solution",
        "Headsets for the support team",
        "Cloud storage upgrade",
        "Laptop replacement",
        "Wi-Fi coverage for the warehouse",
    ),
    1: (
        "Group-wide CRM rollout",
        "Data centre upgrade",
        "Enterprise licence agreement",
        "Analytics platform",
        "Managed services contract",
    ),
    2: ("Reseller starter kit", "Partner licence bundle", "Demo equipment", "Co-selling bundle"),
}
DEAL_COMMENTS = (
    "",
    "",
    "[B]Budget approved[/B] for the next quarter.",
    "Customer asked for a split delivery.",
    "Waiting for the signed purchase order.",
    "Competing offer from a local integrator.",
    "Follow up after the board meeting.",
)
SOURCE_DESCRIPTIONS = (
    "",
    "",
    "Asked for a call-back on the website",
    "Referred by an existing client",
)

APP_NAME = "Deal Desk"
APP_CODE = "dealdesk.app"
APP_SCOPE = "crm,placement,user_brief"
