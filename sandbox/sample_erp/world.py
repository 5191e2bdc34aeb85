"""The sample ERP's world: countries with their cities, currencies, phone styles, names and mailboxes, and
the rates that shape how its books behave (payers, disputes, bad contacts, planted bad rows)."""

from __future__ import annotations

from dataclasses import dataclass

# --- where customers are ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class City:
    name: str
    tz: str
    phone: str  # national significant number template: '#' any digit, 'N' 2-9 but not 5; spaces split groups


@dataclass(frozen=True)
class Country:
    """How a country writes company names and phone numbers, so the sample looks local everywhere."""

    code: str
    currency: str
    share: float
    tld: str
    cities: tuple[City, ...]
    mobiles: tuple[str, ...]  # mobile number templates; empty where mobiles look like fixed lines (NANP)
    # (format over the first group and the rest, separator inside the rest); the first two suit every number
    phone_styles: tuple[tuple[str, str], ...]
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    name_formats: tuple[str, ...]
    cores: tuple[str, ...]
    industries: tuple[str, ...]
    suffixes: tuple[str, ...]
    ap_mailboxes: tuple[str, ...]
    romaji: tuple[str, ...] = ()  # domain stems for non-Latin cores, aligned with `cores`

    @property
    def calling_code(self) -> str:
        return self.phone_styles[0][0].split()[0]


_NANP_STYLES = (("+1 {first} {rest}", " "), ("{first}-{rest}", "-"), ("({first}) {rest}", "-"),
                ("{first}.{rest}", "."), ("+1-{first}-{rest}", "-"))
_EN_FIRST = ("James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Sarah",
             "Daniel", "Emily", "Chris", "Olivia", "Liam", "Noah", "Emma", "Grace", "Ethan", "Chloe")
_EN_LAST = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Wilson", "Taylor",
            "Clark", "Lewis", "Walker", "Hall", "Young", "O'Brien", "Murphy", "Patel", "Nguyen", "Kim")
_EN_FORMATS = ("{core} {industry} {suffix}", "{core} {suffix}", "{core} {industry}")
_EN_CORES = ("Acme", "Summit", "Pioneer", "Harbor", "Granite", "Blue Ridge", "Evergreen", "Atlas", "Northwind",
             "Redwood", "Silverline", "Keystone", "Meridian", "Cascade", "Lakeside", "Ironbridge", "Sterling",
             "Horizon", "Oakmont", "Brightwater")
_EN_INDUSTRIES = ("Logistics", "Foods", "Manufacturing", "Software", "Supply", "Engineering", "Health",
                  "Textiles", "Packaging", "Electric", "Analytics", "Hardware", "Farms", "Trading", "Medical",
                  "Construction", "Marine", "Robotics", "Paper", "Brewing")
_EN_MAILBOXES = ("ap", "accounts.payable", "accountspayable", "invoices", "ap+invoices", "payables", "finance")


def _english(code: str, currency: str, share: float, tld: str, cities: tuple[City, ...], mobiles: tuple[str, ...],
             phone_styles: tuple[tuple[str, str], ...], suffixes: tuple[str, ...], first: tuple[str, ...] = _EN_FIRST,
             last: tuple[str, ...] = _EN_LAST) -> Country:
    """A country whose companies take English names."""
    return Country(code, currency, share, tld, cities, mobiles, phone_styles, first, last, _EN_FORMATS,
                   _EN_CORES, _EN_INDUSTRIES, suffixes, _EN_MAILBOXES)


COUNTRIES: tuple[Country, ...] = (
    _english("US", "USD", 0.35, "com", (
        City("New York", "America/New_York", "212 N## ####"), City("Boston", "America/New_York", "617 N## ####"),
        City("Atlanta", "America/New_York", "404 N## ####"), City("Chicago", "America/Chicago", "312 N## ####"),
        City("Houston", "America/Chicago", "713 N## ####"), City("Denver", "America/Denver", "303 N## ####"),
        City("Phoenix", "America/Phoenix", "602 N## ####"),
        City("San Francisco", "America/Los_Angeles", "415 N## ####"),
        City("Seattle", "America/Los_Angeles", "206 N## ####"),
        City("Anchorage", "America/Anchorage", "907 N## ####"),
        City("Honolulu", "Pacific/Honolulu", "808 N## ####")), (), _NANP_STYLES, ("Inc.", "LLC", "Corp.", "Co.")),
    _english("CA", "CAD", 0.07, "ca", (
        City("Toronto", "America/Toronto", "416 N## ####"), City("Montréal", "America/Toronto", "514 N## ####"),
        City("Vancouver", "America/Vancouver", "604 N## ####"), City("Calgary", "America/Edmonton", "403 N## ####"),
        City("Halifax", "America/Halifax", "902 N## ####")), (), _NANP_STYLES, ("Inc.", "Ltd.")),
    _english("GB", "GBP", 0.10, "co.uk", (
        City("London", "Europe/London", "20 7### ####"), City("Manchester", "Europe/London", "161 8## ####"),
        City("Birmingham", "Europe/London", "121 4## ####"), City("Edinburgh", "Europe/London", "131 2## ####")),
        ("71## ######", "73## ######"), (("+44 {first} {rest}", " "), ("0{first} {rest}", " ")),
        ("Ltd", "PLC", "LLP")),
    Country("DE", "EUR", 0.10, "de", (
        City("Berlin", "Europe/Berlin", "30 N### ####"), City("Hamburg", "Europe/Berlin", "40 N### ####"),
        City("München", "Europe/Berlin", "89 N### ####"), City("Frankfurt am Main", "Europe/Berlin", "69 N### ####")),
        ("151 #### ####", "171 ### ####"),
        (("+49 {first} {rest}", " "), ("0{first} {rest}", " "), ("0{first}/{rest}", ""), ("(0{first}) {rest}", " ")),
        ("Lukas", "Anna", "Jonas", "Lena", "Felix", "Marie", "Jürgen", "Sabine", "Björn", "Katrin"),
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schäfer", "Köhler"),
        ("{core} {industry} {suffix}", "{core} {suffix}"),
        ("Müller", "Schröder", "Bücher", "Weiß", "Nordstern", "Alpen", "Rhein", "Hansa", "Bergmann", "Köhler"),
        ("Maschinenbau", "Logistik", "Feinkost", "Elektrotechnik", "Verpackung", "Spedition", "Druckerei"),
        ("GmbH", "AG", "GmbH & Co. KG"), ("rechnung", "buchhaltung", "kreditoren")),
    Country("FR", "EUR", 0.07, "fr", (
        City("Paris", "Europe/Paris", "1 4# ## ## ##"), City("Lyon", "Europe/Paris", "4 7# ## ## ##"),
        City("Marseille", "Europe/Paris", "4 9# ## ## ##"), City("Toulouse", "Europe/Paris", "5 6# ## ## ##")),
        ("6 1# ## ## ##", "6 7# ## ## ##"),
        (("+33 {first} {rest}", " "), ("0{first} {rest}", " "), ("0{first}.{rest}", ".")),
        ("Camille", "Léa", "Louis", "Chloé", "Hugo", "Élodie", "Jérôme", "Céline", "Théo", "Manon"),
        ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Lefèvre", "Girard", "Rousseau"),
        ("{core} {industry} {suffix}", "{core} {industry}"),
        ("Société Générale de", "Maison", "Lefèvre", "Béranger", "Étoile", "Lumière", "Mercier"),
        ("Café", "Vins", "Transports", "Boulangerie", "Textiles", "Électricité", "Logistique"),
        ("SA", "SAS", "SARL"), ("comptabilite", "factures", "fournisseurs")),
    Country("JP", "JPY", 0.06, "co.jp", (
        City("Tokyo", "Asia/Tokyo", "3 N### ####"), City("Osaka", "Asia/Tokyo", "6 N### ####"),
        City("Nagoya", "Asia/Tokyo", "52 N## ####")),
        ("90 N### ####", "80 N### ####"), (("+81 {first}-{rest}", "-"), ("0{first}-{rest}", "-")),
        ("Haruto", "Yui", "Sota", "Aoi", "Ren", "Hina", "Takumi", "Sakura", "Kenji", "Yuki"),
        ("Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura", "Kobayashi", "Kato"),
        ("株式会社{core}", "{core}株式会社"),
        ("さくら", "ふじ", "みどり", "ひかり", "山田商事", "東京精密", "大和物流", "日の出食品"), ("",), ("",),
        ("keiri", "seikyu", "ap"),
        romaji=("sakura", "fuji", "midori", "hikari", "yamada-shoji", "tokyo-seimitsu", "yamato-butsuryu",
                "hinode-foods")),
    _english("IN", "INR", 0.06, "co.in", (
        City("Mumbai", "Asia/Kolkata", "22 6### ####"), City("New Delhi", "Asia/Kolkata", "11 4### ####"),
        City("Bengaluru", "Asia/Kolkata", "80 4### ####"), City("Chennai", "Asia/Kolkata", "44 2### ####")),
        ("9N### #####",), (("+91 {first} {rest}", " "), ("0{first} {rest}", " ")), ("Pvt. Ltd.", "Ltd."),
        first=("Aarav", "Priya", "Rohan", "Ananya", "Vikram", "Sneha", "Arjun", "Kavya", "Rahul", "Deepa"),
        last=("Sharma", "Patel", "Iyer", "Reddy", "Gupta", "Nair", "Singh", "Mehta", "Rao", "Das")),
    _english("AU", "AUD", 0.06, "com.au", (
        City("Sydney", "Australia/Sydney", "2 9### ####"), City("Melbourne", "Australia/Melbourne", "3 9### ####"),
        City("Brisbane", "Australia/Brisbane", "7 3### ####"), City("Perth", "Australia/Perth", "8 9N## ####")),
        ("41# ### ###", "42# ### ###"),
        (("+61 {first} {rest}", " "), ("0{first} {rest}", " "), ("(0{first}) {rest}", " ")), ("Pty Ltd",)),
    Country("BR", "BRL", 0.05, "com.br", (
        City("São Paulo", "America/Sao_Paulo", "11 3### ####"),
        City("Rio de Janeiro", "America/Sao_Paulo", "21 2### ####"),
        City("Belo Horizonte", "America/Sao_Paulo", "31 3### ####"), City("Manaus", "America/Manaus", "92 3### ####")),
        ("11 9N### ####", "21 98### ####"), (("+55 {first} {rest}", "-"), ("({first}) {rest}", "-")),
        ("João", "Maria", "Pedro", "Ana", "Lucas", "Júlia", "Gabriel", "Beatriz", "Rafael", "Larissa"),
        ("Silva", "Santos", "Oliveira", "Souza", "Pereira", "Lima", "Carvalho", "Gonçalves", "Araújo", "Costa"),
        ("{core} {industry} {suffix}", "{industry} {core} {suffix}"),
        ("São Jorge", "Paulista", "Aurora", "Ipê", "Horizonte", "Três Irmãos", "Carioca"),
        ("Alimentos", "Logística", "Comércio", "Têxtil", "Engenharia", "Transportes"), ("Ltda.", "S.A."),
        ("financeiro", "contas.pagar", "nfe")),
    _english("SG", "SGD", 0.04, "com.sg", (City("Singapore", "Asia/Singapore", "62## ####"),),
             ("91## ####", "81## ####"), (("+65 {first} {rest}", " "), ("{first} {rest}", " ")), ("Pte. Ltd.",),
             first=("Wei Ling", "Jun Jie", "Hui Min", "Kai Xuan", "Siti", "Arjun", "Mei", "Darren"),
             last=("Tan", "Lim", "Lee", "Ng", "Wong", "Goh", "Chua", "Rahman")),
    _english("ZA", "ZAR", 0.04, "co.za", (
        City("Johannesburg", "Africa/Johannesburg", "11 N## ####"),
        City("Cape Town", "Africa/Johannesburg", "21 N## ####"), City("Durban", "Africa/Johannesburg", "31 N## ####")),
        ("82 ### ####", "72 ### ####"), (("+27 {first} {rest}", " "), ("0{first} {rest}", " ")), ("(Pty) Ltd",),
        first=("Thabo", "Naledi", "Pieter", "Anele", "Sipho", "Johan", "Lerato", "Ayesha"),
        last=("Nkosi", "Dlamini", "van der Merwe", "Botha", "Naidoo", "Mokoena", "Pillay", "Pretorius")),
)

UNITS_PER_USD = {"USD": 1.0, "EUR": 0.92, "GBP": 0.79, "CAD": 1.37, "AUD": 1.53, "JPY": 150.0, "INR": 84.0,
                 "BRL": 5.4, "SGD": 1.34, "ZAR": 18.0}
CURRENCIES = tuple(UNITS_PER_USD)
COLLECTORS = ("Dana Whitfield", "Marco Rossi", "Aiko Tanaka", "Priya Nair", "Lukas Brandt", "Sophie Laurent",
              "Carlos Mendes", "Grace Okafor")
SALES_REPS = ("Tom Becker", "Nina Petrova", "Ravi Kumar", "Emma Johansson", "Jake Morrison", "Yuki Sato",
              "Hannah Schulz", "Lucas Moreau", "Isabela Costa", "Oliver Grant", "Mei Lin", "Sipho Ndlovu")

# --- how the book behaves ----------------------------------------------------------------------------------

HISTORY_DAYS = 540  # invoices are issued over the ~18 months before as_of
TERMS_DAYS, TERMS_SHARE = (15, 30, 60), (0.3, 0.5, 0.2)
# share of customers, mean days paid after due, spread, share of partial payments, share never paid
PAYER_PROFILES = {"punctual": (0.55, -3, 4, 0.03, 0.002), "slow": (0.30, 15, 10, 0.08, 0.01),
                  "chronic": (0.15, 55, 30, 0.25, 0.06)}
BATCH_PAYER_SHARE = 0.35  # pay everything due in a week with one payment on Friday
BILLED_IN_USD_SHARE = 0.12  # foreign customers invoiced in USD
CUSTOMER_FLAG_RATES = {"autopay": 0.02, "credit_hold": 0.01, "dunning_paused": 0.01, "dunning_stop": 0.005,
                       "is_internal": 0.005}
VOID_RATE, CREDIT_NOTE_RATE, FULL_CREDIT_SHARE = 0.005, 0.03, 0.2
DISPUTE_RATE, PROMISE_RATE = 0.02, 0.02  # of open invoices
DISPUTE_REASONS = (("pricing", "Unit price differs from the purchase order"),
                   ("quantity", "Quantity received is less than invoiced"),
                   ("damaged", "Goods arrived damaged"),
                   ("not-received", "Service not delivered yet"),
                   ("duplicate", "Billed twice for the same order"))


def dispute_reason(doc_no: str) -> tuple[str, str]:
    """The code and words an AP clerk gives for disputing this invoice (fixed per invoice, no random draw)."""
    return DISPUTE_REASONS[int(doc_no[-2:]) % len(DISPUTE_REASONS)]
CREDIT_NOTE_REASONS = ("Pricing error", "Damaged goods", "Service credit", "Volume rebate", "Short shipment")
PAYMENT_METHODS, METHOD_SHARE = ("ach", "wire", "check", "card"), (0.45, 0.2, 0.2, 0.15)
IDN_SHARE = 0.3  # customers with a non-ASCII name who also registered the non-ASCII domain
GMAIL_SHARE = 0.04  # small customers whose AP mailbox is a gmail address
BAD_CONTACT_RATE = 0.02  # share of customers per kind below
BAD_CONTACT_KINDS = ("no_contact", "sales_only", "noreply_only", "shared_email", "email_typo", "missing_email",
                     "missing_phone", "stale_verification", "bounced")
BAD_ROW_KINDS = ("due_before_doc", "impossible_date", "negative_total", "non_numeric_total", "unknown_currency",
                 "orphan_allocation")
INSERT_CHUNK = 100_000
