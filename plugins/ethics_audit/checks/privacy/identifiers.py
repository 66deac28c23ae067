"""Direct identifiers by column name, and personal names by content.

A column's name is normalised (accents stripped, camelCase and punctuation to snake_case:
``Prénom`` -> ``prenom``, ``dateOfBirth`` -> ``date_of_birth``) and matched against
``IDENTIFIER_NAMES``: per kind of identifier, shell-style patterns (``*_first_name``) in
English, German, French, Spanish, Italian, Portuguese, Dutch, Swedish and Polish. A spec adds
its own spellings with ``checks.privacy.pii.identifier_names`` (``{name: [imie_ojca]}``); kinds
are tried in the order below, so ``email_address`` is an email, not an address. Compound names
are listed explicitly rather than ``*_name``, because ``campaign_name`` is not a person.

Columns the spec marks as holding personal names (``pii.name_columns``), and columns whose name
is of kind ``name``, are also read: a name-shaped value (one to four words of letters,
apostrophes or hyphens, no digits) counts, and examples are masked to each word's first letter
(``J*** S****``). Nothing else about the value leaves this module.
"""

from __future__ import annotations

import re
import unicodedata
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

# kind -> patterns over normalised names; the first kind with a matching pattern wins
IDENTIFIER_NAMES: dict[str, tuple[str, ...]] = {
    "email": (
        "email", "e_mail", "*_email", "email_address", "*_email_address", "email_addr", "mail", "mail_address",
        "courriel", "correo", "correo_electronico", "e_mail_adresse", "emailadresse", "posta_elettronica",
        "adres_email",
    ),
    "ip": ("ip", "*_ip", "ip_address", "ip_addr", "ipaddress", "ipv4", "ipv6", "remote_addr", "adresse_ip"),
    "phone": (
        "phone", "*_phone", "phone_number", "*_phone_number", "phone_no", "phone_num", "phonenumber", "telephone",
        "telephone_number", "tel", "tel_no", "fax", "msisdn", "mobile", "mobile_number", "mobile_no", "cell",
        "cell_phone", "cellphone", "telefon", "telefonnummer", "handynummer", "handy", "portable", "numero_de_telephone",
        "telefono", "numero_de_telefono", "movil", "celular", "cellulare", "telemovel", "telefoonnummer",
        "mobiel", "numer_telefonu",
    ),
    "name": (
        "name", "first", "last", "surname", "*_surname", "first_name", "*_first_name", "firstname", "fname",
        "last_name", "*_last_name", "lastname", "lname", "full_name", "*_full_name", "fullname", "given_name",
        "family_name", "middle_name", "maiden_name", "forename", "forenames", "legal_name", "real_name",
        "display_name", "customer_name", "contact_name", "person_name", "user_name", "patient_name",
        "client_name", "employee_name", "applicant_name", "defendant_name", "vorname", "nachname", "familienname",
        "prenom", "nom", "nom_de_famille", "nom_complet", "nombre", "apellido", "apellidos", "nombre_completo",
        "nome", "cognome", "nome_completo", "sobrenome", "apelido", "voornaam", "achternaam", "fornamn",
        "efternamn", "imie", "nazwisko",
    ),
    "address": (
        "address", "*_address", "addr", "street", "street_name", "*_street", "address_line_1", "address_line_2",
        "address_line1", "address_line2", "adresse", "anschrift", "strasse", "wohnort", "direccion", "domicilio",
        "calle", "indirizzo", "endereco", "morada", "rua", "adres", "straat", "gatuadress", "ulica",
    ),
    "dob": (
        "dob", "*_dob", "date_of_birth", "*_date_of_birth", "birth_date", "*_birth_date", "birthdate",
        "birthday", "birth_day", "bday", "born_on", "geburtsdatum", "geburtstag", "date_de_naissance",
        "date_naissance", "fecha_de_nacimiento", "fecha_nacimiento", "data_di_nascita", "data_nascita",
        "data_de_nascimento", "data_nascimento", "geboortedatum", "fodelsedatum", "data_urodzenia",
    ),
    "national_id": (
        "ssn", "social_security", "social_security_number", "social_security_no", "national_id",
        "national_id_number", "nin", "nino", "sin", "passport", "passport_number", "passport_no", "tax_id",
        "taxpayer_id", "driver_license", "driver_licence", "drivers_license", "drivers_licence",
        "driver_license_number", "id_card_number", "personalausweis", "ausweisnummer", "steuer_id",
        "steueridentifikationsnummer", "sozialversicherungsnummer", "numero_securite_sociale", "nir", "dni",
        "nie", "nif", "curp", "codice_fiscale", "cpf", "bsn", "burgerservicenummer", "personnummer", "pesel",
        "aadhaar",
    ),
    "payment": (
        "card_number", "card_no", "card_num", "credit_card", "credit_card_number", "cc_number", "cc_num", "cc_no",
        "pan", "iban", "account_number", "bank_account", "bank_account_number", "kontonummer",
        "numero_de_cuenta", "numero_de_compte",
    ),
}  # fmt: skip

# name-shaped: one to four words of letters (joined by apostrophes or hyphens, an initial may end
# in a dot), no digits; any case, since records write names in lower or upper case too
_WORD = r"[^\W\d_]+(?:['’-][^\W\d_]+)*\.?"
NAME_PATTERN = re.compile(rf"^\s*{_WORD}(?:\s+{_WORD}){{0,3}}\s*$")


def normalise_name(name: str) -> str:
    """``userEmail`` / ``User-Email`` / ``Prénom`` -> ``user_email`` / ``user_email`` / ``prenom``."""
    text = unicodedata.normalize("NFKD", str(name))
    text = "".join(c for c in text if not unicodedata.combining(c)).replace("ß", "ss")
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text)
    return re.sub(r"[^a-z0-9]+", "_", snake.lower()).strip("_")


def identifier_names(extra: dict[str, list[str]] | None = None) -> dict[str, tuple[str, ...]]:
    """The built-in list with a spec's additions (normalised the same way as column names)."""
    merged = {kind: list(patterns) for kind, patterns in IDENTIFIER_NAMES.items()}
    for kind, patterns in (extra or {}).items():
        merged.setdefault(kind, []).extend("*".join(normalise_name(p) for p in p.split("*")) for p in patterns)
    return {kind: tuple(patterns) for kind, patterns in merged.items()}


def identifier_kind(name: str, names: dict[str, tuple[str, ...]] | None = None) -> str | None:
    """The kind of direct identifier a column name suggests, or None."""
    normal = normalise_name(name)
    for kind, patterns in (names or IDENTIFIER_NAMES).items():
        if any(fnmatchcase(normal, pattern) for pattern in patterns):
            return kind
    return None


def is_name_shaped(value: str) -> bool:
    """One to four words of letters, one of them two letters or longer: ``Jane Smith``, ``o'neil``."""
    return NAME_PATTERN.match(value) is not None and max(len(w.strip(".")) for w in value.split()) >= 2


def mask_name(value: str) -> str:
    """``Jane Smith`` -> ``J*** S****``: each word's first letter, the rest starred."""
    return " ".join(w[0] + "*" * (len(w) - 1) for w in value.split())


def scan_names(series: pd.Series, *, examples: int = 3) -> tuple[int, list[str]]:
    """Rows whose value looks like a personal name, and masked examples."""
    import pandas as pd

    present = series.dropna()
    if not len(present):
        return 0, []
    counts = present.astype(str).value_counts()
    hits = pd.Series([is_name_shaped(v) for v in counts.index], index=counts.index, dtype=bool)
    found = counts[hits]
    shown = list(dict.fromkeys(mask_name(v) for v in found.index[: examples * 4]))[:examples]
    return int(found.sum()), shown
