"""The rules for understanding a request, kept as data: word lists and patterns, German and English.

Nothing here runs on its own; ``customers`` and ``classify`` apply these patterns.
Every pattern is compiled case-insensitively unless it says otherwise. The rules follow
SPEC §1 (severity definitions, "Information every request needs"); none of them names a
particular customer, mail or sample text.
"""

from __future__ import annotations

import re

from sepdesk.pipeline.prefilter import Rule


def _rx(*alternatives: str, alone: bool = False) -> Rule:
    """One case-insensitive pattern from readable alternatives (prefiltered by their literals)."""
    return Rule(alternatives, re.IGNORECASE, alone=alone)


def _rule(pattern: str, flags: int = 0) -> Rule:
    """A single pattern searched in whole texts, prefiltered by its literals."""
    return Rule((pattern,), flags)


# --------------------------------------------------------------------------- customers

# Labels that introduce a customer number (German and English spellings seen at desks).
# Customer matching searches the mail's text with this rule alone: it gets its own scan.
CUSTOMER_LABEL = _rx(
    r"\b(?:SEP[- ]?)?kunden[- ]?(?:nummer|nr\b\.?)",
    r"\bkd\.?[- ]?nr\b\.?",
    r"\bkunde\s+nr\b\.?",  # "Kunde Nr. 104217"
    r"\bkdnr\b\.?",
    r"\bknr\b\.?",
    # Also wrapped between its words: "SEP customer \nnumber 348159".
    r"\bcustomer(?:[- ]|\s*\n\s*)?(?:number|no\b\.?|nr\b\.?|id\b|#)",
    r"\bcust\.?[- ]?(?:no\b\.?|nr\b\.?|id\b|#)",
    r"\bcust\.(?=\s*\d)",  # a signature's "SEP cust. 318761"
    r"\bclient(?: |\s*\n\s*)(?:number|no\b\.?)",
    r"\baccount(?: |\s*\n\s*)(?:number|no\b\.?)",
    alone=True,
)
# What may stand between a label and its number: ": ", " lautet ", " at SEP: ", " meines Kunden: ".
LABEL_GAP = re.compile(r"[^\d\n]{0,32}(?:\n[^\d\n]{0,8})?")  # one line break: HTML table cells
# A candidate customer number: 5 to 8 digits, not part of a longer token (phone, date, version, IP).
# Its first digit before the lookbehind (the same places): re skips to digits instead of
# trying the lookbehind at every position of the mail.
NUMBER_TOKEN = re.compile(r"\d(?<![\w+\-/.,]\d)\d{4,7}(?![\w\-/]|[.:,]\d)")
# Words that show the digits after a label belong to something else (or that the label was negated).
NOT_A_CUSTOMER_NUMBER = _rx(
    r"\b(?:tel|telefon|phone|fax|mobil\w*|mobile|handy|hotline|durchwahl)\b",
    r"\b(?:order|bestell\w*|auftrag\w*|ticket|invoice|rechnung\w*|lieferschein|serial|serien\w*)\b",
    r"\b(?:hrb|hra|ust|vat|iban|plz|zip)\b",
    r"[.!?]\s",  # the sentence ended: the digits are not the label's value
    r"\+",
    alone=True,  # read in the few characters around a number only
)
# A number labelled as the end customer's (a partner or service provider writing) wins.
END_CUSTOMER = _rx(
    r"\b(?:meines|unseres|des|für (?:unseren|den)) (?:end)?kunden\b",
    r"\bendkunde\w*",
    r"\bend[- ]customer\w*",
    r"\bof (?:my|our|the) (?:customer|client)\b",
    r"\bon behalf of\b",
    r"\bim auftrag\b",
    # "die IT der Spedition X, die einen eigenen Supportvertrag bei Ihnen hat: Kd-Nr. Y".
    r"\beigenen (?:support|wartungs)?-?vertrag\w*",
    r"\b(?:its|their) own (?:support |maintenance )?contract\b",
    # The customer named just before the label: "our managed-services customer Hebridean
    # Met Services Ltd, SEP customer number 348159" (not "Customer Number:", "Kunde Nr.").
    r"\b(?:customer|client)\s+(?-i:(?!Number|No\b|Nr\b|ID\b)[A-Z][a-z]{2,})",
    alone=True,  # read in the words around a label only
)
# Words just before an unlabelled number that make it anything but a customer number.
UNLABELLED_CONTEXT_BAD = NOT_A_CUSTOMER_NUMBER
# A licence identifier as printed on licence papers: groups of capitals and digits joined by '-'.
# Possessive: giving back characters of a group can never let a '-' or the end follow it,
# and re no longer tries (the customer match searches most mails with it, ~20% faster).
LICENSE_TOKEN = re.compile(
    r"(?<![\w-])[A-Z0-9]{2,}+(?:-[A-Z0-9]{2,}+){1,4}+(?![\w-])", re.IGNORECASE
)

# --------------------------------------------------------------------------- own text

# Line patterns open with ``^[^\S\n]*``, not ``^\s*``: searched over a whole text with
# MULTILINE (classify._any_line, the language's CLOSING), ``\s*`` ran from every line
# start through a run of blank lines, quadratic in it (a pasted log: seconds per mail).
# A line alone holds no newline, so for one line the two are the same.
# A line that opens quoted reply history: everything from it on is history.
HISTORY_START = _rx(
    r"^[^\S\n]*-{2,}\s*(?:ursprüngliche nachricht|original message|original-nachricht)\s*-{2,}\s*$",
    r"^[^\S\n]*on\b.{0,200}\bwrote:\s*$",
    r"^[^\S\n]*am\b.{0,200}\bschrieb\b.{0,120}:\s*$",
    r"^[^\S\n]*le\b.{0,200}\ba écrit\s*:\s*$",
)
# A forwarded message: its content is the customer's report and stays.
FORWARD_START = _rx(
    r"^[^\S\n]*-{2,}\s*(?:forwarded message|weitergeleitete nachricht|weitergeleitete e-mail)\s*-{2,}",
    r"^[^\S\n]*begin forwarded message:",
    r"^[^\S\n]*anfang der weitergeleiteten nachricht:",
)
# Words in the writer's own lines that announce a forwarded message below.
FORWARD_HINT = _rx(
    r"\bforward(?:ed|ing)?\b",
    r"\bweiter(?:ge)?leit\w*",
    r"\b(?:original|ursprüngliche) (?:message|nachricht|meldung|mail)\b[^\n]{0,40}\b(?:below|unten)\b",
    r"\b(?:message|mail|report|meldung|nachricht)\b[^\n]{0,40}\b(?:is )?below\b",
    r"\bsiehe unten\b",
    r"\bnachfolgend\b",
    # "Auszug aus der Benachrichtigung von heute Nacht unten", "the notification is below".
    r"\b(?:auszug|benachrichtigung|meldung|nachricht|bericht|protokoll)\w*\b[^\n]{0,50}\bunten\b",
    r"\bnotification\b[^\n]{0,40}\bbelow\b",
)
# A quoted header block: From/Von ... then Sent/Gesendet/Date within a few lines (Outlook).
HEADER_FROM = re.compile(r"^\s*\*?(?:from|von)\s*:\*?\s+\S", re.IGNORECASE)
HEADER_SENT = re.compile(r"^\s*\*?(?:sent|gesendet|date|datum)\s*:\*?\s+\S", re.IGNORECASE)
# GMX's and web.de's block opens with the time it was sent: "Gesendet: Montag, ..." then "Von:".
HEADER_SENT_FIRST = re.compile(r"^\s*\*?(?:sent|gesendet)\s*:\*?\s+\S", re.IGNORECASE)
HEADER_SUBJECT = re.compile(r"^\s*\*?(?:subject|betreff)\s*:\*?\s*(.*)$", re.IGNORECASE)
FORWARD_SUBJECT = re.compile(r"^\s*(?:(?:re|aw|sv)\s*:\s*)*(?:fwd?|wg|tr|vs)\s*:", re.IGNORECASE)
QUOTED_LINE = re.compile(r"^\s*>")
# An attribution with the date after the name ("SEP Support wrote on 30.11.2026 09:00:",
# "Bob schrieb am 30.11.2026 um 09:00:"): no HISTORY_START, as the writer's own text may
# follow the quote under it; only the line goes, the quote's "> " lines go as always.
ATTRIBUTION = re.compile(
    r"\b(?:wrote\s+on|schrieb\s+am|a écrit\s+le)\b[^\n]{0,100}\d[^\n]{0,60}:\s*$", re.IGNORECASE
)
# A separator line (Outlook's "________________________________" above a quoted mail).
SEPARATOR_LINE = re.compile(r"^\s*(?:_{8,}|-{8,})\s*$")
# A company's disclaimer under a mail: confidential content and who it is meant for, in one
# paragraph ("Diese E-Mail kann vertrauliche ... Informationen enthalten. Wenn Sie nicht der
# richtige Adressat sind ...", "This e-mail is confidential and intended solely for ...").
DISCLAIMER = _rx(r"\bvertraulich\w*", r"\bconfidential\w*")
DISCLAIMER_RECIPIENT = _rx(
    r"\b(?:adressat\w*|empfänger\w*|recipients?|addressees?|intended (?:solely |only )?for)\b",
)

# --------------------------------------------------------------------------- language

GERMAN_WORDS = frozenset(
    [
        "und",
        "der",
        "die",
        "das",
        "nicht",
        "ist",
        "wir",
        "ich",
        "mit",
        "auf",
        "bei",
        "seit",
        "sie",
        "ein",
        "eine",
        "einen",
        "den",
        "dem",
        "des",
        "von",
        "zu",
        "für",
        "es",
        "haben",
        "hat",
        "wird",
        "werden",
        "sind",
        "auch",
        "noch",
        "aber",
        "bitte",
        "uns",
        "unser",
        "unsere",
        "unseren",
        "wie",
        "was",
        "wenn",
        "dass",
        "oder",
        "kein",
        "keine",
        "schon",
        "nur",
        "nach",
        "über",
        "immer",
        "mehr",
        "läuft",
        "laufen",
        "sicherung",
        "danke",
        "gruß",
        "grüße",
        "hallo",
        "guten",
        "morgen",
        "tag",
        "freundlichen",
        "vielen",
        "im",
        "am",
        "zum",
        "zur",
    ]
)
ENGLISH_WORDS = frozenset(
    [
        "the",
        "and",
        "is",
        "are",
        "we",
        "i",
        "with",
        "on",
        "of",
        "to",
        "for",
        "it",
        "have",
        "has",
        "not",
        "this",
        "that",
        "our",
        "you",
        "please",
        "from",
        "be",
        "was",
        "were",
        "will",
        "can",
        "cannot",
        "does",
        "do",
        "did",
        "after",
        "since",
        "but",
        "or",
        "no",
        "any",
        "all",
        "only",
        "there",
        "what",
        "how",
        "when",
        "which",
        "thanks",
        "thank",
        "regards",
        "hello",
        "hi",
        "dear",
        "kind",
        "best",
        "would",
        "could",
        "should",
    ]
)

# --------------------------------------------------------------------------- versions, OS

# A SEP sesam version: 3 or 4 dotted parts (4.4.3.86, 5.1.0); two-part numbers are other products.
# "v5.1.0" too, and a third part of two digits as customers write it ("sesam 5.0.10").
VERSION = re.compile(r"(?<![\w.])[vV]?([1-9]\.\d\.\d{1,2}(?:\.\d{1,4})?)(?![\w]|\.\d)")
# A version counts only near words that tie it to sesam (not ONTAP, firmware, PostgreSQL...).
VERSION_CONTEXT = _rx(
    r"\bsesam\b",
    r"\bsep\b",
    r"\bversion\b",
    r"\brelease\b",
    r"\bclient\w*",
    r"\bserver\b",
    r"\bgui\b",
    r"\bedition\b",
    r"\bupdate\w*",
    r"\bupgrade\w*",
    r"\baktualisier\w*",
    r"\bsbc\b",
    alone=True,  # this and VERSION_NOT_SESAM: read in the words around a version only
)
VERSION_NOT_SESAM = _rx(
    r"\b(?:firmware|ontap|postgres\w*|sql|esxi|vcenter|vsphere|exchange|hana|oracle|java|"
    r"kernel|openssl|bios|driver|treiber|browser|firefox|edge|chrome|proxmox|ip)\b\W{0,3}$",
    alone=True,
)
# A version the writer has left behind, read in the words before it: "upgraded from SEP
# sesam 4.4.3.86 to 5.1.0.4", "auf 5.1.0.4 (vorher 4.4.3.86)". Told beside a newer one,
# it is not what runs now, and the reply must not ask to update from it.
# Past tense only: "can we update from 4.4.3" still runs it, and needs the advice.
VERSION_LEFT_BEHIND = _rx(
    r"(?:\b(?:vorher|previously|formerly|zuvor|früher)"
    r"|\b(?:updated|upgraded|migrated|moved|went|came|switched)\s+(?:\S+\s+){0,3}?from)"
    r"[\s:(]*(?:(?:sep\s+)?sesam\s+)?(?:(?:version|release)\s*)?$",
    alone=True,
)
OPERATING_SYSTEMS = (
    _rule(r"\b(?:Win ?20\d\d|W2K\d\d|Win2k\d\d)\b", re.IGNORECASE),
    # Also in lower case ("windows 10", "windows server 2019"), as hurried mail has it.
    _rule(
        r"\bWindows[- ]Server(?: (?:20\d\d|2008|2012)(?: R2)?)?(?: (?:Datacenter|Standard))?",
        re.IGNORECASE,
    ),
    _rule(r"\bWindows (?:7|8\.1|8|10|11)(?: (?:Pro|Enterprise|Home))?", re.IGNORECASE),
    # Short forms: "Win 11 23H2", "Win10", "WS2019" (Windows Server).
    _rule(r"\bWin ?(?:7|10|11)\b", re.IGNORECASE),
    _rule(r"\bWS ?20(?:12|16|19|22|25)(?: R2)?\b"),
    # "Win Server 2019", bare "Server 2022": a Windows server release unless a server
    # product (SQL, Exchange, SharePoint) owns the word.
    _rule(
        r"(?<!SQL )(?<!Exchange )(?<!SharePoint )(?<!Windows )\b(?:Win |MS )?Server 20(?:08|12|16|19|22|25)(?: R2)?\b",
        re.IGNORECASE,
    ),
    _rule(r"\bSLES ?\d{2}(?: SP\d)?(?: for SAP)?", re.IGNORECASE),
    # The SAP editions name the release after the edition: "SLES for SAP 15 SP4", "SUSE
    # Linux Enterprise Server for SAP Applications 15 SP5", "RHEL for SAP Solutions 8.6".
    _rule(r"\bSLES for SAP(?: Applications)?(?: \d{2}(?: SP\d)?)?", re.IGNORECASE),
    _rule(
        r"\bSUSE Linux Enterprise(?: Server)?(?: for SAP(?: Applications)?)?(?: \d{2})?(?: SP\d)?"
    ),
    _rule(
        r"\b(?:RHEL|Red Hat Enterprise Linux) for SAP(?: Solutions| Applications)?(?: \d(?:\.\d{1,2})?)?"
    ),
    _rule(r"\bopenSUSE(?: Leap)?(?: \d+(?:\.\d)?)?", re.IGNORECASE),
    _rule(r"\bRHEL ?\d(?:\.\d{1,2})?"),
    _rule(r"\bWindows 20\d\d(?: R2)?\b", re.IGNORECASE),
    _rule(r"\bRed Hat(?! Enterprise)(?: Linux)?(?: \d(?:\.\d{1,2})?)?"),
    _rule(r"\bSUSE(?! Linux Enterprise)(?: Linux)?(?: \d{2}(?: SP\d)?)?"),
    _rule(r"\bRed Hat Enterprise Linux(?! for SAP)(?: \d(?:\.\d{1,2})?)?"),
    # Names no other word has: also in lower case ("sesam 5.1.0.4 on debian 12").
    _rule(r"\bDebian(?: \d{1,2})?", re.IGNORECASE),
    _rule(r"\bUbuntu(?: \d{2}\.\d{2}(?: LTS)?)?", re.IGNORECASE),
    _rule(r"\bRocky Linux(?: \d(?:\.\d{1,2})?)?"),
    _rule(r"\bAlma ?Linux(?: \d(?:\.\d{1,2})?)?"),
    _rule(r"\bCentOS(?: \d(?:\.\d{1,2})?)?"),
    _rule(r"\bOracle Linux(?: \d(?:\.\d{1,2})?)?"),
    _rule(r"\b(?:macOS|Solaris|AIX|HP-UX|FreeBSD)(?: \d+(?:\.\d+)?)?"),
)
# Bare family names count only when nothing more precise is named.
OPERATING_SYSTEM_FAMILIES = (_rule(r"\bWindows\b"), _rule(r"\bLinux\b"))
# "sesam 5.1" (two parts) directly after the product name is a version too.
# Also "SEP 5.1 Beefalo V2", "Our SEP Sesam is 5.1", "sesam version is 5.1", "sesam-Version: 5.1".
SHORT_VERSION = _rule(
    r"\b(?:sesam(?:[- ](?:server|client|version))?|sep(?= v?\d\.\d\s+(?:tigon|grolar|beefalo|jaglion|apollon)\b))"
    r"(?:\s+(?:is|ist|version|release))*\s*[:=]?\s+v?([1-9]\.\d)(?![\d.])",
    re.IGNORECASE,
)
# A release named by its name ("SEP sesam Beefalo V2", "Jaglion"): the version for the
# request's information, but no number to compare with current_version.
SESAM_RELEASE = _rx(r"\b(?:tigon|grolar|beefalo|jaglion|apollon)(?:\s+v\d)?\b")

# --------------------------------------------------------------------------- missing info

# Question compounds that name a request type like "Konfigurationsfrage" does (not "Abfrage",
# a query, or "Anfrage", any request): licence, documentation, product, price questions.
REQUEST_TYPE_QUESTIONS = (
    r"\b(?:lizenz|lizenzierungs|dokumentations|verständnis|produkt|preis|vertrags|"
    r"support)fragen?\b",
    # Any such compound: "eine Navigationsfrage", "Bedienungsfrage", "Grundsatzfrage" (not
    # "Abfrage", "Anfrage", "Rückfrage", "Nachfrage", "Umfrage", nor their compounds).
    r"\b[a-zäöüß]{3,}(?<!ab)(?<!an)(?<!rück)(?<!nach)(?<!um)(?<!auf)fragen?\b",
    r"\b(?:licen[cs]e|licensing|documentation|product|pricing|contract) questions?\b",
)


def _numbered(level: str) -> tuple[str, ...]:
    """A severity class named by its number ``level`` (a digit or a class of them): "Sev1",
    "Severity: 2", "Prio 3", and a service provider's "P1 - ...", "Our priority: P3" (a
    capital P, not inside a host or job name: "SRV-P2", "DB_P3")."""
    return (
        rf"\b(?:sev|severity|schweregrad|prio|priority|priorität)\.?\s*[-:|]?\s*{level}\b",
        rf"(?-i:(?<![-_/\\.])\bP{level}\b(?![-_]\w))",
    )


# Naming a severity class or a request type is a classification (even a wrong one).
CLASSIFICATION = _rx(
    r"\b(?:critical|kritisch\w*|major|minor|cosmetic|kosmetisch\w*)\b",
    r"\b(?:severity|priority|priorität|prio|einstufung|klassifizierung|classification|"
    r"kategorie|category|dringlichkeit|schweregrad|art der anfrage|type of request|"
    r"request type)\s*[:|\t]\s*\S",  # a table's cell too: "| Priority | high |"
    r"\b(?:severity|priorit\w*|prio|schweregrad|dringlichkeit)\s*[:|]?\s*[1-4]\b",
    # A table's row as HTML renders it, its cells joined by a space ("Art der Anfrage
    # Störung"): a label that opens its line, then a kind of request.
    r"(?m:^)[ \t|]*(?:art der anfrage|art der meldung|anfrageart|meldungsart|art|typ|"
    r"request type|type of request|type)[ \t|:]+(?:störung\w*|anfrage|problem\w*|fehler\w*|"
    r"frage|incident|question|request|bug|fault|error)\b",
    *_numbered("[1-4]"),
    r"\b(?:low|high|medium|normal|niedrige|hohe|mittlere)\s+(?:priority|priorität|prio)\b",
    # "mit höchster Priorität", "highest priority"; a form's "Vorgangspriorität: 2 (hoch)".
    r"\b(?:höchste[rn]?|highest|top)\s+(?:priority|priorität|prio)\b",
    r"\b\w+priorität\s*:\s*\S",
    r"\b(?:severity|priority|priorität|prio|dringlichkeit|impact)\s*[:|]?\s*(?:hoch|high|niedrig|low|"
    r"mittel|medium|normal|dringend|urgent|tief)\b",
    # "Priorität aus unserer Sicht: tief", "Priority from our side: low".
    r"\b(?:priority|priorität|prio|dringlichkeit)\b[^:\n]{1,25}:\s*(?:hoch|high|niedrig|low|tief|"
    r"mittel|medium|normal)\b",
    r"\b(?:frage|fragen|question|questions|konfigurationsfrage|installationsfrage|"
    r"feature request|bug report|fehlerbericht|störungsmeldung|service request|"
    r"problem report|incident report|problemmeldung)\b",
    r"\btype\s*:\s*(?:problem|incident|error|bug|fault)\b",  # a form's "Type: problem report"
    # The kind of message named as such: "Art: Störung", "Art der Meldung: Störung", a
    # subject or line that opens with it ("Störung: ...", "Anfrage Betriebsrat: ..."), "wir
    # melden folgende Störung". Not where it only describes ("Störung der Sicherung").
    r"\b(?:art|typ|art der meldung|meldungsart|anfrageart)\s*[:|\t]\s*(?:störung|anfrage|problem|fehler)",
    r"(?m:^)[ \t]*(?:störung|anfrage)\b(?!\s+(?:der|des|im|in|bei|beim|mit|von|am|an|auf)\b)",
    r"\b(?:melden?|zeigen)\b[^.\n]{0,25}\b(?:folgende|eine)\s+störung\b",
    *REQUEST_TYPE_QUESTIONS,
)
# A quoted error or log text (a line of a log, an exception, a quoted message with error words).
# Two words at least before the closing quote.
_MESSAGE = r"(?=[^\"“”„«»\n]*?[^\s\"“”„«»][ \t]+[^\s\"“”„«»])"
# A message the writer only recalls is no error text: 'something like "access is denied"'.
# Asked after the opening quote (the "." is that quote): ``re`` tries an alternative at
# every position of a text, and five look-behinds first cost ten times the search.
_LIKE = r"(?<!something like .)(?<!so etwas wie .)(?<!sowas wie .)(?<!sinngemäß .)(?<!ungefähr .)"


def _quoted_message(words: str) -> str:
    """A message in double quotes with one of ``words`` in it: two words at least
    (_MESSAGE), not one the writer only recalls (_LIKE)."""
    return (
        r"[\"“„»]"
        + _LIKE
        + _MESSAGE
        + r"[^\"“”„«»\n]{0,120}\b"
        + words
        + r"[^\"“”„«»\n]{0,120}[\"”“«]"
    )


ERROR_TEXT = _rx(
    # Not "There is no error: the job ends with status SUCCESS".
    r"\b(?<!\bno )(?<!\bkein )(?<!\bkeine )(?<!\bohne )(?<!\bwithout )"
    r"(?:error|fehler|warning|warnung|fatal|failed|exception)\s*[:\]]",
    r"\b[\w.\-\[\]]+:\s+[EWF]:\s",
    r"\bSTATUS=ERROR\b",
    r"(?-i:\b[a-zA-Z]\w*(?:Exception|Error)\b)(?<!\bterror)",
    r"\bHTTP \d{3}\b",
    r"\b0x[0-9a-f]{6,}\b",
    r"\b(?:error|errno|fehler(?:code)?)\s+\d{2,}",
    # A quoted message, not a status word alone: "der Job steht auf "abgebrochen"" is what
    # the writer saw, not an error text (_MESSAGE: two words at least between the quotes).
    # One alternative for all the words: each is tried at every position.
    _quoted_message(
        r"(?:error|fail\w*|fehl\w*|abort\w*|abgebrochen|denied|verweigert|cannot|kann nicht|"
        r"not found|nicht gefunden|incomplete|damaged|invalid|timeout|busy|warn\w*|"
        r"mismatch|corrupt\w*|beschädigt|defekt|refused|unreachable|nicht erreichbar|"
        r"not accessible|exceeded|überschritten|expired|abgelaufen)\b"
    ),
    # Not a form's field for the kind of request: "Art der Meldung: Störungsmeldung".
    r"(?<!\bart der )(?<!\btype of )\b(?:fehlermeldung|error message|meldung|message)\s*:\s*\S",
    # The message on the lines after its announcement: "kommt diese Meldung (abgeschrieben):".
    r"(?<!\bart der )(?<!\btype of )\b(?:fehlermeldung|error message|meldung|message)\b[^\n:]{0,30}:"
    r"[ \t]*\n(?:[ \t]*\n)?[ \t]*\w",
    # "Fehlermeldung im Log: ...", "Im Protokoll steht: ...", "the job log shows: ...".
    # Not "Der Restore läuft ohne Fehlermeldung, aber extrem langsam: ...".
    r"(?<!\bohne )(?<!\bkeine )(?<!\bno )(?<!\bwithout )(?<!\bwithout an )"
    r"\b(?:fehlermeldung|error message)\b[^\n:]{1,30}:\s*\S",
    r"\b(?:protokoll|log|logfile|job ?log)\w*\s+(?:steht|stand|shows|showed|says|said|reads|"
    r"zeigt|meldet|sagt)\s*:\s*\S",
    # A message noun directly followed by the quoted message: "the message 'Media not found'".
    r"\b(?:message|meldung|fehlermeldung|error|fehler)\s+[\"'“„»‚]\w"
    # Not a success quoted: 'die tägliche Meldung "Sicherung erfolgreich"'.
    r"(?![^\"'“”„«»‘’\n]{0,40}\b(?:erfolgreich|successful\w*|succeeded|completed)\b)",
    r"[\"“„»]\s*[EWF]:\s",
    # A message quoted as what came up, in any words: 'Beim Zurückspielen kommt "Medium
    # nicht lesbar" und dann bricht es ab', 'the GUI says "Media not ready for use"'.
    r"\b(?:kommt|kam|kommen|erscheint|erschien|meldet|meldete|bringt|brachte|says|said|"
    r"appears|appeared|pops up|popped up)\s+(?:[\w:]+\s+){0,5}?[\"“„»]"
    + _LIKE
    + _MESSAGE
    + r"(?![^\"“”„«»\n]{0,120}\b(?:erfolgreich|successful\w*|succeeded|completed)\b)"
    + r"[^\"“”„«»\n]{2,120}[\"”“«]",
    # The same in single quotes, common in English mail ('connection refused'); an
    # apostrophe inside a word never opens or closes such a quote.
    r"(?<!\w)'"
    + _LIKE
    + r"(?=[^'\n]*?[^\s'][ \t]+[^\s'])[^'\n]{0,120}\b(?:error|fail\w*|fehl\w*|abort\w*|abgebrochen|denied|verweigert|"
    r"cannot|not found|nicht gefunden|invalid|timeout|refused|unreachable|corrupt\w*|warn\w*|"
    r"needs cleaning|mismatch|incomplete|damaged|beschädigt|exceeded|expired)\b[^'\n]{0,120}'(?!\w)",
    # Any quoted text that a failing or ending run is said to end with: "Sicherungsjob bricht
    # ab mit 'Drive busy'", 'The job ends with "Medium not present"' (not a success, nor
    # the writer's own closing: "we end with 'thanks'").
    r"(?<!\bwe )(?<!\bi )(?<!\bwir )(?<!\bich )\b(?:fail\w*|ends?|ended|endet|enden|endete|abort\w*|abbricht|abgebrochen|(?:bricht|brechen)"
    r"\s+ab|stops?|stopped|terminat\w*)\s+(?:\w+\s+){0,2}?(?:with|mit)\s+(?:(?:the|der|dem|a|an|"
    r"einer?)\s+)?(?:(?:error|message|meldung|fehlermeldung|status)\s+)?[\"'“„»‚]"
    r"(?![^\"'“”„«»‘’\n]{0,40}\b(?:erfolgreich|successful\w*|succeeded|completed|ok)\b)"
    r"[^\"'“”„«»‘’\n]{2,120}[\"'”“«‘’]",
    # A Windows error's code in brackets: "Access is denied (0x5)".
    r"\(0x[0-9a-f]{1,8}\)",
    # A mail server's refusal with its enhanced status code: "530 5.7.0 Must issue a
    # STARTTLS command first", "550-5.1.1 ...".
    r"\b[45]\d\d[ -][45]\.\d{1,3}\.\d{1,3}\b",
    # Product error codes quoted without the word "error" (ORA-19511, RMAN-03009, sbc-1205).
    r"\b(?:ORA|RMAN|ANS|SBC|STPD|VDDK|VIX|NDMP|BR)-\d{3,6}[A-Z]?\b",
    r"\bVSS_E_\w+",
    r"\b(?:exit|return)\s+(?:code|status|value)\s*[=:]?\s*-?\d+",
)
# An indented line of program output with an error in it (how logs are pasted into mails).
INDENTED_ERROR = _rule(
    r"^(?:[ \t]{2,}|#\s).*\b(?:error|fail\w*|cannot|could not|unable|no such|denied|exited|"
    r"refused|timeout|abort\w*|fehler|fehlgeschlagen|konnte nicht|not found|nicht gefunden|"
    # Windows' event log: "The SEP sesam Server service terminated unexpectedly."
    r"terminated unexpectedly|unerwartet beendet)\b",
    re.IGNORECASE | re.MULTILINE,
)
# An indented line in a log's own format: a severity letter ("W: File ... changed") or an
# error number ("Msg 3241:", "ORA-01234:") leads it.
INDENTED_LOG = _rule(
    r"^[ \t]{2,}(?:\S+\s+)?(?:[EWF]:\s|(?:msg|error|err|fehler)\s*\d{2,}\s*:|[A-Z]{2,6}-\d{3,6}:)"
    # A program's own line: "2026-09-14 10:02:11 sbc-restore: Info: 1512330 files restored".
    r"|^[ \t]{2,}(?:\S+\s+){0,2}[\w.-]+(?:\[\d+\])?:\s+(?:info|warning|warnung|error|fehler|fatal)\s*:",
    re.IGNORECASE | re.MULTILINE,
)
# Pasted output introduced as what a failure printed: "fails with", "endet mit der Meldung:",
# "the log says", then an indented line (a blank line may sit between).
INTRODUCED_OUTPUT = _rule(
    r"(?:\b(?:fail\w*|ends?|ended|endet|enden|abort\w*|abbricht|bricht\b[^\n]{0,60}\bab|"
    r"meldung|message|error|fehler|log|protokoll|says|reads|steht|gives?|bringen|liefert|kommt|"
    r"erscheint|appears)\b"
    r"[^\n]{0,40}?(?:\bwith|\bmit|:)"
    # ... or a line that ends in a verb of receiving: "we get", "kommt", "erscheint".
    r"|\b(?:get|got|bekommen|erhalten|kommt|appears|erscheint)\s*:?)[ \t]*\n"
    r"(?:[ \t]*\n)?(?:[ \t]{2,}|\t)\S"
    # ... or not indented, where the next line names what failed in brackets as a
    # program's message does: "bricht jede Nacht ab:\nData store [USB_DS] is full".
    r"|\b(?:fail\w*|abort\w*|abbricht|bricht\b[^\n]{0,60}\bab|endet|ends?|ended)\b[^\n]{0,40}?:"
    r"[ \t]*\n[^\n]*?\w \[[^\]\n]{2,60}\]"
    # ... or not indented, where the next line opens as a program's message does: with an
    # error word or the program's name ("ERROR sm_db_restore: ...", "sm_restore: ...").
    r"|\b(?:fail\w*|abort\w*|abbricht|bricht\b[^\n]{0,60}\bab|endet|ends?|ended)\b[^\n]{0,40}?:"
    r"[ \t]*\n(?:[ \t]*\n)?(?:error|fehler|fatal|[EWF]:|[a-z]+[_\d][\w.-]*:\s)",
    re.IGNORECASE,
)
LOG_LINE = re.compile(r"\b(?:error|fehler|failed|fatal|warning|E:|W:|STATUS=ERROR)\b", re.I)
LOG_FILE = re.compile(r"\.(?:log|txt|out|trc|trace)$", re.IGNORECASE)
# The operation a request is about: a verb of backup work...
ACTION_VERB = _rx(
    r"\b(?:restor(?:e|ed|ing)|back(?:ed|ing)? up|install(?:ed|ing)?|updat(?:e|ed|ing)|"
    r"upgrad(?:e|ed|ing)|configur(?:e|ed|ing)|set(?:ting)? up|exclud(?:e|ed|ing)|"
    r"replicat(?:e|ed|ing)|migrat(?:e|ed|ing)|creat(?:e|ed|ing)|log(?:ged|ging)? in|"
    r"schedul(?:e|ed|ing)|import(?:ed|ing)?|add(?:ed|ing)?|mount(?:ed|ing)?|"
    r"extend(?:ed|ing)?|reboot(?:ed|ing)?|move|moving|change|changing)\b",
    r"\b(?:zurückzusichern|zurücksichern|zurückgesichert|zurückspiel\w*|zurückgespielt|wiederherstell\w*|sicher(?:n|t|te|ten)|"
    r"gesichert|installier\w*|einricht\w*|eingerichtet|aktualisier\w*|einspiel\w*|eingespielt|"
    r"konfigurier\w*|ausschließ\w*|replizier\w*|migrier\w*|anlegen|angelegt|anmelden|"
    r"umstell\w*|umgestellt|ändern|verschieben|hinzufüg\w*|hinzugefügt|testen|aufspielen|"
    r"einstell\w*|eingestellt)\b",
    r"\b(?:connect(?:ed|ing)?|attach(?:ed|ing)?|register(?:ed|ing)?|renew(?:ed|ing)?|convert(?:ed|ing)?|start(?:ed|ing)?|open(?:ed|ing)?)\b",
    r"\b(?:einbind\w*|eingebunden|anbind\w*|angebunden|registrier\w*|verlänger\w*|umzieh\w*|öffne\w*|gestartet|starte\w*)\b",
    # Restores told without the word: "die Daten zurückholen", "bekomme ich nicht aus der
    # Sicherung zurück", "bring the D: drive back from last night's backup".
    r"\b(?:zurückhol\w*|zurückgeholt|zurückzuholen)\b",
    r"\baus (?:der|dem|den) (?:\w+ ){0,2}(?:sicherung|backup|band|bändern)\w* (?:\w+ ){0,3}zurück\b",
    r"\b(?:bring|get|got)\w* (?:\S+ ){0,4}back from\b",
)
# An action the writer labels as such, as a form asks for it: "Aktion: Konfiguration
# Medienpool.", "- Action: restore of the archive folders". Its text is the action
# whatever words it uses. A blank or placeholder value names none, and neither does a
# delivery report's "Action: failed" (RFC 3464's words).
ACTION_LABEL = _rule(
    r"^[ \t]*(?:[-*\u2022][ \t]*|\d{1,2}[.)][ \t]*)?\**(?:aktion|action|vorgang|tätigkeit"
    r"|durchgeführte aktion|action performed|operation)\**[ \t]*:\**[ \t]*"
    r"(?!(?:n/?a|none|nothing|keine?|nichts|unbekannt|unknown|failed|delayed|delivered"
    r"|relayed|expanded|-+|\?+)[ \t.]*$)[^\W\d_]{3,}",
    re.IGNORECASE | re.MULTILINE,
)
# Words of backup work that name no operation of this request, removed before the
# action is looked for: where the backups go ("gesichert wird auf die Synology",
# "backing up to a dedup store"), who installed it, and a setting asked about ("gibt es
# eine Einstellung?"). The operation is what the problem occurs in or what is attempted.
NOT_AN_ACTION = _rx(
    r"\bgesichert wird (?:auf|nach|über|in|mit)\b",
    r"\bwird (?:auf|nach) [^.\n]{1,40} gesichert\b",
    r"\b(?:backing|backs?|backed) up to\b",
    r"\b(?:frisch |neu )?installiert (?:durch|von)\b",
    r"\binstalled by\b",
    r"\b(?:eine|einer|keine|die|den|der) einstellung(?:en)?\b",
    r"\beinstellungen\b",
    # What the product can or would back up, asked before a purchase or about a licence:
    # "Can SEP sesam back up our Microsoft 365 mailboxes?", "Kann SEP sesam solche
    # Datenmengen sichern?", "Do our licences cover backing up Proxmox?", "möchte ... sichern
    # lassen", "gesichert werden aber nur Server". (Not what staff can restore themselves.)
    r"\b(?:can|could|does|do|will)\s+(?:sep\s+)?sesam\s+(?:\w+\s+){0,3}?back(?:ing)?\s+up\b",
    r"\b(?:kann|können|könnte)\s+(?:sep\s+)?sesam\s+(?:[\w-]+\s+){0,4}?sichern\b",
    r"\bcover\w*\s+backing\s+up\b",
    r"\bsichern\s+lassen\b",
    r"\bgesichert\s+werden\s+(?:aber\s+)?nur\b",
    # Nothing done yet: "Nothing is installed yet", "noch ist nichts installiert".
    r"\b(?:nothing|noch nichts|nichts)\s+(?:\w+\s+)?(?:installed|installiert)\b",
    r"\b(?:no|keine)\s+(?:sep\s+|sesam\s+)?installation\s+(?:yet|bisher)\b|\bnoch keine installation\b",
    # A product looked for, before a purchase: "we are looking for a new backup software",
    # "we are comparing backup products".
    r"\b(?:looking for|evaluating|comparing|suchen|evaluieren|vergleichen)\s+(?:a\s+|an\s+|eine\s+)?"
    r"(?:new\s+|neue\s+)?(?:backup|sicherungs)[-\s]?(?:software|solutions?|products?|lösung\w*|produkte?)\b",
    # The adjective, not the verb: "a registered charity", "the registered address".
    r"\b(?:a|an|the|our|your)\s+registered\b",
)
# ... or an operation noun in a sentence that also says it failed or is wanted.
ACTION_NOUN = _rx(
    r"\b\w*(?:backup|sicherung|restore|rücksicherung|rückspielung|migration|replication|replikation|"
    r"job|jobs|zeitplan|zeitpläne|schedule|update|upgrade|installation|login|anmeldung|"
    r"benachrichtigung|notification|inventur|inventory|purge|bereinigung|wizard|assistent|"
    r"export|verify|verifizierung|auslagerung|duplizierung|recovery|wiederherstellung|bmr|"
    # A copy job, not a copy kept ("put a copy in the cloud"): "Die Kopie auf das Band",
    # "the copy to tape".
    r"kopie(?= (?:auf|nach|zu)\b)|copy(?= to\b|[ -]jobs?\b))\w*",
)
ACTION_INTENT = _rx(
    r"\b(?:how (?:do|can|should|to)|want to|would like to|trying to|try to|we are \w+ing|"
    r"i am \w+ing|plan to|need to)\b",
    r"\b(?:wie (?:kann|können|muss|müssen|richte|geht|kommen)|möchte\w*|wollen|will ich|"
    r"versuch\w*|probiert|planen|beim|bei der|während)\b",
)
# An operation that went well ("ein paar Dateien zurückgeholt, das ging einwandfrei", "the
# restore finally worked"): not the one the problem occurs in.
WENT_WELL = _rx(
    r"\b(?:ging|geht|lief|läuft|klappt\w*|funktioniert\w*|hat funktioniert|hat geklappt)\s+"
    r"(?:\w+\s+)?(?:einwandfrei|problemlos|ohne probleme|tadellos|sauber|fehlerfrei)\b",
    r"\b(?:worked|works|went|ran|finished|completed)\s+(?:\w+\s+)?(?:fine|perfectly|flawlessly|"
    r"without (?:any )?(?:problems?|issues?|errors?))\b",
    r"\b(?:finally|eventually) worked\b",
)
# A failure that happens by itself, in no operation: "the service stops by itself",
# "comes back without anyone doing anything", "Nobody changed anything", "beendet sich
# von selbst", "ohne dass jemand etwas gemacht hätte". (Not "the run should retry by itself".)
SPONTANEOUS = _rx(
    r"\b(?:stops?|stopped|stopping|closes|closed|freezes|froze|crashes|crashed|dies|died|"
    r"disappears|appears|shuts? down|restarts|goes down|fails)\b[^.\n]{0,40}\bby itself\b",
    r"\bby itself\b[^.\n]{0,20}\b(?:stops?|closes|freezes|crashes|restarts|appears)\b",
    r"\b(?:is )?stopping alone\b",
    r"\bwithout (?:anyone|anybody|us) doing anything\b",
    r"\b(?:nobody|no one|no-one) (?:changed|did|touched) anything\b",
    r"\bnot connected to (?:something|anything) we do\b",
    r"\b(?:don't|do not) need to do anything for it to happen\b",
    r"\b(?:at|in) random (?:times|hours|moments)\b",
    r"\b(?:beendet|beenden|schließt|stürzt|stürzen|fällt|fallen|verabschiedet)\b[^.\n]{0,40}\b"
    r"(?:von selbst|von allein|einfach so)\b",
    r"\bvon (?:selbst|allein)\b[^.\n]{0,20}\b(?:beendet|ab|aus|zu)\b",
    r"\bohne dass (?:jemand|ich|wir|einer) (?:etwas|was) (?:tut|tue|tun|macht|mache|gemacht hätte|"
    r"gemacht hat|getan hätte|getan hat)\b",
    r"\bniemand hat (?:etwas|was) (?:geändert|gemacht)\b",
)
# "our lab", "my lab": a test system where the mail is a partner's, a demo's or a home
# user's (LAB_CONTEXT), not a clinic's: "the storage under our lab server failed ... all
# procedures booked for today are cancelled".
OWN_LAB = _rule(r"\b(?:our|my)[- ]lab\b", re.IGNORECASE)
LAB_CONTEXT = _rx(
    r"\bnfr\b",
    r"\bpartner\w*",
    r"\bdemo\w*",
    r"\bproof of concept\b|\bpoc\b",
    r"\bprospect\w*",
    r"\bat home\b|\bhome user\b",
    r"\bbefore (?:rolling|we roll) (?:it )?out\b",
)
# Backup target hardware.
HARDWARE = _rx(
    r"\bLTO-?\d?\b",
    r"\b(?:tapes?|cartridges?|bänder|band|bandlaufwerk\w*|bandbibliothek\w*)\b",
    # Not a program's: "error while loading shared libraries", "the Python library".
    r"(?<!shared )(?<!dynamic )(?<!software )(?<!python )(?<!client )\b(?:tape )?librar(?:y|ies)\b",
    # A library holding tapes, not a building: "Band-/Tape-/Magnetbandbibliothek" (the plain
    # "Bibliothek" of a tape mail is found by its other words: Band, LTO, Laufwerk).
    r"\b(?:\w*band|tape|medien|lto)-?bibliothek\w*",
    r"\bauto-?loader\b",
    # Not a volume: "network drive", "the L: drive", "log drive", "drive D:".
    # Nor the verb: "the CAM server that drives the plotters".
    r"(?<!network )(?<!shared )(?<!google )(?<!log )(?<!system )(?<!home )(?<!user )(?<![a-z]: )"
    r"(?<!\bthat )(?<!\bwhich )(?<!\bwho )(?<!\bit )\b(?:tape )?drives?\b"
    r"(?!\s*[a-z]:)",
    # Nor "Netzlaufwerk", "Filiallaufwerk", "Pfarrbüro-Laufwerk", "Laufwerk P:" (a tape's
    # "LTO-Laufwerk", "Band-Laufwerk" are found by their first word).
    r"(?<!\w-)\b(?!netz|filial|gruppen|projekt|abteilung|log|daten|system|home|team)\w*laufwerk\w*\b"
    r"(?!\s*[a-z]:)",
    r"\b(?:to|on|auf) (?:disk|platte|festplatte)\b",
    r"\bobject storage\b",
    r"\bminio\b",
    r"\bS3[- ](?:bucket|storage|speicher|store)\b",
    r"\bazure blob\b",
    r"\bNAS\b",
    r"\bSAN\b",
    r"\bJBOD\b",
    r"\bSSDs?\b",
    r"\bHDDs?\b",
    r"\b(?:usb|externe?n?|local|lokalen?|internal|interne?n?)[- ](?:disks?|platten?|"
    r"festplatten?|drives?|hard ?disks?|laufwerk\w*)\b",
    # Not macOS's "Festplattenvollzugriff" (Full Disk Access), a permission.
    r"\b(?:festplatte(?!\w*zugriff)\w*|hard ?disks?|disk (?:array|storage|shelf)|speichersystem\w*)\b",
    r"\b(?:synology|qnap|netapp|powervault|storeeasy|storeever|storeonce|scalar|"
    r"apollo|data domain|datadomain|tandberg|neos|quantum|eternus|powerstore|exagrid|"
    r"primergy|supermicro|wd elements|dell emc|rackstation|diskstation|readynas|"
    r"ultrium|powerprotect|poweredge|buffalo|terastation|linkstation|my cloud|my book|"
    r"thomas-krenn|thinksystem|truenas|freenas|cloudian|hyperstore|storagegrid|scality)\b",
    # Model numbers, each on its own and with its first digit spelled as a set: "ts" or
    # "dd" as the literal of the list above left it to be tried in every text.
    r"\bmsl[0-9]\d{2,3}\b",
    r"\bts[0-9]\d{3}\b",
    r"\bmsa [0-9]\d*\b",
    r"\bdd[0-9]\d{3}\b",
    r"\bme[45]0\d\d\b",
    r"\br[67][0-9]0(?:xd2?|xs|xa)?\b",
    r"\bde[46]000[hf]?\b",
    r"\bdedup\w* (?:appliance|hardware)\b",
    # SEP's own dedup store and a cloud target: "Si3 store", "SEP Si3 Deduplication
    # Store", "Si3 Dedup-Store", "Wasabi S3" (samples/README: "dedup store hardware").
    # Not "Si3" alone: a pasted log's "Si3 read error", a licence's "Si3 option".
    r"\bsi3[- ](?:dedup\w*[- ]?)?(?:store|speicher)\b|\bsi3[- ]dedup\w*speicher\b",
    r"\bsep (?:si3 )?deduplication store\b",
    r"\bwasabi\b",
    r"\bLUN\b",
    r"\bRDX\b",
    r"\bwechsel(?:platte|medi)\w*",
    r"\b(?:band|tape)-?robot\w*|\bbandroboter\b",
    r"\b(?:backup|sicherungs)-?speicher\b",
)

# Storage that failed in production, not where backups go: "nach einem Ausfall des
# Speichersystems", "the SSD with the database is broken", "Booking DB lost after SAN crash".
PRODUCTION_STORAGE_LOST = _rx(
    r"\b(?:ausfall|defekt|fehler|totalausfall)\w*\s+(?:\w+\s+){0,3}?\w*speichersystem\w*",
    r"\b\w*speichersystem\w*\b[^.\n]{0,60}?\b(?:ausgefallen|ausgestiegen|defekt|kaputt|beschädigt)",
    r"\b(?:SAN|disk array|storage array)\b[^.\n]{0,15}?\b(?:crash\w*|fail\w*|died|broke\w*|"
    r"ausgefallen)",
    r"\b(?:after|nach|when)\s+(?:a |an |the |einem |dem )?(?:SAN|disk array|storage array)\s+"
    r"(?:crash|failure|failed|ausfall)",
    r"\b(?:festplatten?|platten?|disks?|SSDs?|systemplatten?|datenplatten?)\b[^.\n]{0,40}?\b(?:hinüber|"
    r"hin|kaputt|defekt|broken|dead|ausgestiegen|ausgefallen|nicht mehr lesbar|beschädigt)\b",
    # The state before the disk: "dead boot SSDs", "eine defekte Festplatte".
    r"\b(?:dead|broken|failed|defekte[nrs]?|kaputte[nrs]?)\s+(?:\w+\s+)?(?:festplatte\w*|"
    r"platten?|disks?|SSDs?|hard ?disks?|HDDs?)\b",
    # Its replacement: "eine neue Festplatte eingebaut", "put in a new disk"; and what the
    # production storage itself keeps: "the SAN snapshots of that volume".
    r"\b(?:neue|new)\s+(?:festplatte|platte|disk|ssd|hard ?disk)\w*\b[^.\n]{0,30}?\b(?:eingebaut|"
    r"installed|put in|fitted)\b",
    r"\b(?:put in|installed|fitted|eingebaut)\s+(?:a\s+)?new\s+(?:disk|ssd|hard ?disk)s?\b",
    r"\bSAN[- ]snapshots?\b",
)

# --------------------------------------------------------------------------- severity

# The sender's own claim (ignored for the desk's severity, kept as stated_severity).
STATED = (
    (
        1,
        _rx(
            r"\bcritical\b",
            *_numbered("1"),
            r"\bkritisch\w*",
            r"\bsehr dringend\b",
            r"\bemergency\b",
            r"\bnotfall\b",
            r"\bpilne\b",
        ),
    ),
    (
        2,
        _rx(
            r"\bmajor\b",
            *_numbered("2"),
            r"\b(?:prio\w*|priority|severity)\s*[:|]\s*(?:hoch|high)\b",
            r"\b(?:high|hohe)\s+(?:priority|priorität|prio)\b",
            r"\b(?<!nicht )(?<!not )(?<!nix )(?:dringend|urgent)\b",
        ),
    ),
    (
        3,
        _rx(
            r"\bminor\b",
            *_numbered("3"),
            r"\b(?:prio\w*|priority|severity)\b[^:|\n]{0,25}[:|]\s*(?:niedrig|low|normal|mittel|"
            r"medium|tief)\b",
            r"\b(?:low|medium|normal|niedrige|mittlere)\s+(?:priority|priorität|prio)\b",
        ),
    ),
    (
        4,
        _rx(
            r"\bcosmetic\b",
            r"\bkosmetisch\w*",
            r"\btrivial\b",
            *_numbered("4"),
        ),
    ),
)

# Failure, malfunction or loss of any kind.
# Pieces two rules share. A run that stops: "und die Wiederherstellung hört auf", not "der
# Dienst hört auf Port 11401" (listens on it).
_STOPS = r"\bhör(?:t|en)\b[^.\n]{0,60}\bauf\b(?!\s+(?:(?:dem|den)\s+)?(?:port|ports|namen?|ip|adresse|\d))"
# Work at a fraction of its pace: slowness and its impact at once.
_HALF_PACE = (
    r"\b(?:half|halbe\w*|halber) (?:the )?(?:speed|capacity|throughput|output|pace|leistung|"
    r"geschwindigkeit|tempo|kapazität)\b"
)
# What would be, not what is: "eine Rücksicherung wäre also unmöglich" (nothing was tried).
_NOT_WOULD_BE = r"(?<!\bwäre )(?<!\bwären )(?<!\bwäre also )(?<!\bwäre dann )(?<!\bwäre damit )"

FAILURE = _rx(
    # Not the name of a notice: "failure notifications per tenant", "on failure mails".
    r"\bfail(?:s|ed|ing|ure)?\b(?! (?:notifications?|notices?|mails?|e-?mails?|alerts?|reports?)\b)",
    r"\berrors?\b(?!\s*(?:free|frei))",
    r"\babort\w*",
    r"\bcrash\w*",
    r"\bstops?\b",
    r"\bstopped\b",
    r"\bdoes(?:n't| not) (?:start|work|run)\b",
    r"\bdo(?:n't| not) (?:start|work|run)\b",
    # A scheduled run that never happened: "ist am Samstag nicht gestartet worden", "the
    # weekly job did not run". Not one the writer has yet to start ("noch nicht gestartet").
    r"\b(?:did(?:n't| not)|never) (?:start|run)\b",
    r"\b(?:was|were|has|have)(?:n't| not)(?: been)? (?:started|run)\b",
    r"(?<!\bnoch )\bnicht (?:gestartet|gelaufen|ausgeführt)\b",
    # "seit drei Nächten laufen die Sicherungen vom Fileserver nicht durch", "none of our
    # VM backups have run".
    r"\b(?:läuft|laufen|lief|liefen)\b[^.\n]{0,60}\bnicht? (?:mehr )?durch\b",  # also "nich"
    r"\bnicht (?:mehr )?durchgelaufen\b",
    r"\bnone of\b[^.\n]{0,50}\b(?:(?:has|have|had) run|ran|(?:(?:has|have|had) )?(?:completed|"
    r"succeeded|worked|finished))\b",
    # Media or devices not taken: "werden nicht in den Medienpool übernommen", "wird nicht
    # erkannt", "medium ignored", "Label unreadable", "the drive is not recognised".
    r"\b(?:werden|wird|wurden|wurde)\s+(?:\w+\s+){0,2}?nicht\s+(?:\w+\s+){0,3}?"
    r"(?:übernommen|erkannt)\b",
    r"\b(?:is|are|was|were)(?:n't| not) (?:recogni[sz]ed|detected)\b",
    r"\b(?:medium|media|tapes?|cartridges?|slot) ignored\b",
    r"\b(?:unreadable|unlesbar)\b",
    r"\bnot (?:working|possible|accessible|found)\b",
    r"\bno longer\b",
    r"\banymore\b",
    r"\bcannot\b",
    r"\bslow\b",
    r"\blost\b",
    r"\bmissing\b",
    r"\bhangs?\b",
    r"\btoo late\b",
    r"\blater than\b",
    r"\binstead of\b",
    r"\bdenied\b",
    r"\bschlägt\b[^.\n]{0,80}\bfehl\b",
    r"\bschlagen\b[^.\n]{0,80}\bfehl\b",
    r"\bfehlgeschlagen\b",
    # Throughput that fell: "von 400 auf 60 MB/s gedroppt", "dropped from 400 to 60 MB/s".
    r"\bgedroppt\b",
    r"\b(?:dropped|fell) (?:from|to|by) \d",
    # "die Sicherung läuft seit Tagen nicht", "der Job lief gestern nicht" (not "läuft nicht
    # nur nachts", "läuft nicht schneller": something else is said of the run).
    r"\b(?:läuft|laufen|lief|liefen)\b(?:\s+(?:seit|schon|mehr|gestern|heute|heute\s+nacht|"
    r"\w+tagen|tagen|wochen|nächten|\d+))*\s+nicht\b(?!\s+(?:nur|schneller|langsamer|so|mehr\s+so))",
    r"\bscheiter(?:t|n|te|ten)\b",
    r"\bgescheitert\b",
    r"\bfehl(?:t|en)\b",
    r"\bfehler\w*",
    r"\bbricht\b[^.\n]{0,80}\bab\b",
    r"\bbrechen\b[^.\n]{0,80}\bab\b",
    _STOPS,
    r"\babgebrochen\b",
    r"\bstürzt\b[^.\n]{0,80}\bab\b",
    r"\babsturz\w*",
    r"\bnicht mehr\b",
    r"\bgeht nicht\b",
    r"\bklappt nicht\b",
    r"\bfunktioniert nicht\b",
    r"\blangsam\w*",
    r"\bzu spät\b",
    r"\bspäter als\b",
    r"\bausgefallen\b",
    r"\bausfall\b",
    r"\bverloren\b",
    r"\brot\b",
    r"\b(?:is|are|was|were|turned|went|jobs|backups) red\b",  # a status shown red, as "rot"
    r"\bkeine sicherung\w*",
    r"\bno backups?\b",
    r"\b(?:übersprungen|skipped|not backed up|nicht gesichert|with errors)\b",
    r"\b(?:finish\w*|complet\w*|end(?:s|ed)?|beendet|abgeschlossen|endet|enden) (?:with|mit) "
    r"(?:\w+ )?(?:warnings|warnungen)\b",
    r"\b(?:saved|gesichert) (?:as )?inconsistent\b",
    r"\bkein\w* einzige\w*",
    r"\bnot a single\b",
    r"\b(?:mit|with) (?:\w+ )?(?:warnungen|warnings) (?:beendet|abgeschlossen|finished|completed|ended)\b",
    # The everyday words for it: the separable verbs joined in a subordinate clause ("die
    # Sicherung, die seit Montag abbricht", "dass die Sicherung jede Nacht fehlschlägt"),
    # a run that hangs (not "hängt am SAN", "hängt davon ab"), "kaputt", "streikt";
    # "broken", "stuck", "is hanging", "freezes", "a problem with the backup".
    r"\babbr(?:icht|echen|ach|achen)\b",
    r"\bfehlschl(?:ägt|agen|ug|ugen)\b",
    r"\bhäng(?:t|en|te|ten)\b(?!\s+(?:an|am|auf|über|per|via|mit|direkt|davon|zusammen|von)\b)"
    r"(?![^.\n]{0,40}\b(?:ab|zusammen)\b)",
    r"\bhängen ?geblieben\b",
    r"\bkaputt\w*",
    r"\bdefekt\w*",
    r"\bstreik(?:t|en|te|ten)\b",
    r"\b(?:broken|stuck|hanging|hung|freezes|froze|freezing)\b",
    r"\b(?:problems?|issues?|trouble) with (?:the |our |a |an |my )?(?:\w+ )?(?:backups?|"
    r"restores?|jobs?|drives?|tapes?|library|sicherung\w*)\b",
)
# Malfunctions told without a failure word; for the severity only: with a job word beside
# them ("no job is running and it sits at 100% CPU") they name no operation.
MALFUNCTION = _rx(
    # A process that eats the machine: "sits at 95-100% CPU", "CPU-Last bei 100 %".
    r"\b(?:9\d|100)\s*%\s*(?:cpu|der cpu|prozessor)",
    r"\b(?:cpu|prozessor)\w*[^.\n]{0,20}\b(?:9\d|100)\s*%",
    r"\bsluggish\b",
    # Mails that no longer arrive: "kommen keine Benachrichtigungs-Mails mehr an" (not
    # "es kommen keine Fehlermeldungen mehr", which is good news).
    r"\b(?:kommen|kommt|kam|kamen|gehen|geht)\b[^.\n]{0,15}\bkeine?\s+[\w-]*(?:mails?|"
    r"benachrichtigung\w*|bericht\w*|reports?)\b[^.\n]{0,40}\bmehr\b",
    # A device the program takes out by itself: "set to state [disabled]", "steht auf gesperrt".
    r"\b(?:set to|state)\s*(?:state\s*)?[\[\"„“]?(?:disabled|locked)\b",
    r"\b(?:steht|stehen|stand)\b[^.\n]{0,30}\bauf\s*[\"„“]?(?:gesperrt|disabled)\b",
)
# A failure the writer has already accepted as expected (not the problem they bring).
FAILURE_ACCEPTED = _rx(
    r"\bdas ist (?:soweit |so weit |auch )?klar\b",
    r"\berwartungsgemäß\b",
    r"\b(?:that|this) is (?:clear|expected|understood)\b",
    r"\bas expected\b",
)
RESTORE = _rx(
    r"\brestor\w*",
    r"\brücksicherung\w*",
    r"\b(?:rück|zurück)spielung\w*",  # "die Rückspielung der Digitalisate"
    r"\bzurück\w*sicher\w*",
    r"\bzurück\w*spiel\w*",  # "die Sicherung zurückspielen"
    r"\bzurück\w*hol\w*",  # "beim Zurückholen aus der Sicherung"
    # "muss aus der Sicherung geholt werden", "must come back from the SEP backup".
    r"\baus (?:der|dem|einer|den) (?:\w+ )?(?:sicherung|backup)\w*\s+(?:ge)?hol\w*",
    r"\b(?:come|comes|coming|get|getting|bring|bringing|brought|got)\s+(?:\w+\s+){0,2}back\s+"
    r"(?:\w+\s+)?from\s+(?:the\s+|our\s+)?(?:\w+\s+)?backups?\b",
    r"\b(?:will not|won't|cannot|can't|could not|couldn't) (?:bring|get) (?:it|them|(?:\w+ ){1,2})back\b",
    r"\bwiederherstell\w*",
    r"\bwiederherzustell\w*",  # "versucht, die Datenbank wiederherzustellen"
    r"\brecover\w*",
)
RESTORE_FAILS = _rx(
    # Not a machine's failure told beside the restore: "we had a failure of the PDM server
    # ... and we are restoring the vault" (the restore itself may only be slow).
    r"\bfail(?!ures?\b)\w*|\bfailures?\b(?!\s+of\s+(?:the\s+|our\s+|a\s+)?(?:[\w-]+\s+){0,2}?"
    r"(?:server|host|storage|disk|san|nas|raid|vm|controller|node|machine)s?\b)",
    r"\bscheiter\w*",
    r"\bgescheitert\b",
    r"\bstops?\b",
    r"\babort(?:s|ed)\b",
    r"\bbricht\b[^.\n]{0,80}\bab\b",
    r"\bbrechen\b[^.\n]{0,80}\bab\b",
    _STOPS,
    r"(?<!\beinmal )(?<!\bmanuell )(?<!\bselbst )\babgebrochen\b",  # not "einmal abgebrochen"
    r"\bschlägt\b[^.\n]{0,80}\bfehl",
    r"\bbreche\b[^.\n]{0,80}\bab\b",  # reported: "die Rücksicherung breche jedes Mal ab"
    # Joined in a subordinate clause: "der Restore, der jedes Mal abbricht", "dass der
    # Restore fehlschlägt".
    r"\babbr(?:icht|echen|ach|achen)\b",
    r"\bfehlschl(?:ägt|agen|ug|ugen)\b",
    r"\bsich\b[^.\n]{0,40}\bnicht\b[^.\n]{0,30}\blässt\b",
    r"\bgeht nicht\b",
    r"\bklappt nicht\b",
    r"(?<!\bwould be )\bnot possible\b",
    _NOT_WOULD_BE + r"\bnicht möglich\b",
    # Not the people: "Restore of PDM vault far too slow - design team cannot work".
    r"\bcannot\b(?!\s+work\b)",
    r"(?<!\bno )(?<!\bwithout )(?<!\bwithout any )\berror\b",  # not "there is no error"
    r"\bfunktioniert nicht\b",
    r"\b(?:funktioniert|klappt|geht)\s+(?:aber|leider|trotzdem|immer noch|noch immer)\s+nicht\b",
    r"\b(?:gelingt|gelang|gelingen)\s+(?:\w+\s+)?nicht\b",
    r"\blässt sich\b[^.\n]{0,40}\bnicht\b",
    r"\b(?:does|do)(?: not|n't) work\b",
    r"\bnot working\b",
    r"\b(?:will not|won't) (?:bring|get)\b",  # "your software will not bring it back"
    _NOT_WOULD_BE + r"\bunmöglich\b",
    r"(?<!\bwould be )\bimpossible\b",
    r"\bunable\b",
    r"\bcould not\b",
    r"\bcan't\b(?!\s+work\b)",
    # Not the people: "Die 28 Mitarbeiter können bis zum Ende der Rücksicherung nicht mit
    # ihren Daten arbeiten".
    r"\b(?:kann|können|konnte\w*)\b[^.\n]{0,40}\bnicht\b(?![^.\n]{0,40}\barbeiten\b)",
)
# Older backups tried and failing too ("older backups do not help").
_NOT_A_PLACE = r"(?!-|\s+(?:server|client|proxy|laufwerk|drive|job|software|agent|target|ziel)\b)"
OLDER_FAIL = _rx(
    r"\b(?:älter\w*|vorwoche|vortag\w*|older|previous|earlier|other restore points|restore points|"
    r"full backups (?:of|from)|vollsicherungen (?:vom|von)|sicherungen (?:vom|von)|"
    r"bändern der)\b[^\n]{0,160}\b(?:fail\w*|same|genauso|ebenso|dasselbe|derselbe|"
    r"helfen\b[^\n]{0,20}\bnicht|do not help|don't help|no help|all end|nicht|no luck|"
    r"kein erfolg|ohne erfolg|same error|gleiche\w* fehler|de[mnrs]selben)\b",
    r"\b(?:dasselbe|derselbe|(?:the )?same)\b[^\n]{0,80}\b(?:älter\w*|vorwoche|older|previous|"
    r"full backups|vollsicherungen)\b",
    # "Restores from every recovery point we have end with ...", "alle
    # Wiederherstellungspunkte enden mit demselben Fehler".
    r"\b(?:all|every|each|jede\w*|alle|sämtliche) (?:\w+ )?(?:restore points?|recovery points?|savesets?|"
    r"sicherungsstände|wiederherstellungspunkte)\b[^\n]{0,60}\b(?:fail\w*|same|nicht|genauso|kein\w*|"
    r"end (?:with|in)|enden (?:mit|in)|abort\w*|brechen)\b",
    # The older ones named with the failure they share: "Der Restore ist gescheitert,
    # ältere Sicherungen auch.", "the restore fails, older backups too".
    r"\b(?:älter\w*|frühere\w*|vorige\w*|older|earlier|previous)\s+(?:\w+\s+)?(?:\w*sicherungen|"
    r"backups|bänder|tapes|stände|versionen|versions|restore points)\s+(?:auch|ebenso|genauso|"
    r"too|as well|likewise)\s*(?:[.,;:!)]|$)",
    # Two backups tried, both failing: "last night's and Thursday's backup both stop",
    # "die Sicherungen von Montag und Dienstag brechen beide ab".
    r"\b(?:(?>\w*sicherung\w*)|backups?|bänder|tapes?|savesets?)\b[^.\n]{0,40}\b(?:both|beide)\b"
    r"[^.\n]{0,20}\b(?:fail|stop|abort|end|break|brechen|scheitern|schlagen|enden)\w*",
    r"\b(?:(?>\w*sicherung\w*)|backups?|bänder|tapes?|savesets?)\b[^.\n]{0,40}"
    r"\b(?:fail|stop|abort|end|break|brechen|scheitern|schlagen|enden)\w* (?:\w+ )?(?:both|beide)\b",
    r"\bauch bei (?:allen |den )?(?:älter\w*|vorig\w*|früher\w*)\b",
    r"\b(?:also|too|even) with (?:all )?the (?:older|previous|earlier)\b",
    r"\b(?:every|each|all|jede\w*|alle)\b[^.\n]{0,30}\b(?:restore|rücksicherung|attempt|versuch)\w*\b"
    r"[^.\n]{0,20}\b(?:incl\.?|including|inklusive|inkl\.?)\s*(?:last|older|previous|letzte\w*|älter\w*)",
    # Several tried, each the same: "Samstag, Freitag und Donnerstag probiert, bei allen
    # dasselbe", "tried all of them, the same".
    r"\b(?:bei allen|bei jede[mr]|mit allen|with (?:all|each|every)(?: of them)?|all of them|"
    r"beide male|both times|alle drei|all three)\b"
    r"[^.\n]{0,20}\b(?:dasselbe|derselbe|dieselbe|das gleiche|the same|same)\b",
    # The older ones named after a negation or an "even": "auch nicht mit den Ständen von
    # Sonntag", "also not from the older backups", "auch wenn er einen früheren Tag
    # auswählt", "auch die von letzter Woche", "egal welchen Tag er nimmt".
    r"\b(?:(?:auch|also|and) (?:nicht|not)|nicht einmal|not even)\s+(?:(?:mit|aus|von|vom|bei|from|with)\s+)?"
    r"(?:(?:den|der|dem|the|any|our|unseren)\s+)?(?:\w+\s+){0,2}?(?:\w*stände\w*|\w*sicherungen|"
    r"backups|bändern|tapes|versionen|versions|älter\w*|vorig\w*|früher\w*|vorwoche\w*|older|"
    r"previous|earlier)\b",
    r"\b(?:auch|selbst|even)\s+(?:wenn|when|if|bei|with)\b[^.\n]{0,30}\b(?:früher\w*|älter\w*|"
    r"vorig\w*|anderen?|earlier|older|previous|another|other)\s+(?:tag|tage|day|days|stand|"
    r"sicherung\w*|backups?|band|bänder|tapes?|datum|date|versions?|zeitpunkt|restore points?)\b",
    r"\b(?:auch|also|even) (?:die|das|der|den|the ones?) (?:\w+ )?(?:von|vom|aus der|from)\s+"
    r"(?:letzte\w*|vorletzte\w*|vorige\w*|vergangene\w*|gestern|vorgestern|vortag|last|yesterday|"
    r"the (?:week|day|night|month) before|the previous)\b",
    # Tried back through the older ones: "den Stand davor, dann den davor ... bis runter
    # zum 24.10.", "jede Nacht zurück bis 26.10. probiert", "jeder einzelne hört an
    # derselben Stelle auf".
    r"\b(?:fehl|ab|nicht|fails?|failed|stops?)\b[^.\n]{0,40}\b(?:auch|also|even) (?:mit|bei|von|aus|with|from) "
    r"(?:den|der|dem|the) (?:\w+ ){0,2}?(?:\w*stände\w*|\w*ständen|\w*sicherungen|backups|bändern|tapes|"
    r"older|previous|earlier|älter\w*|vorig\w*)\b",
    r"\b(?:der|die|das|den|dem) (?:vo[nm]|aus der) (?:\w+ )?(?:montag|dienstag|mittwoch|donnerstag|"
    r"freitag|samstag|sonntag|gestern|vorgestern|vortag|letzter woche|vorwoche)\b[^.\n]{0,20}"
    r"\b(?:genauso|ebenso|dasselbe|gleich\w*)\b",
    r"\b(?:zurück|runter|hinunter|back|down)\s+(?:bis|to|until)\s+(?:zum\s+|zur\s+|the\s+)?\d{1,2}\.\s*\d{1,2}\.",
    r"\b(?:jede[rs]?|alle|every|each)(?: einzelne\w*| one| single one)?\b[^.\n]{0,40}"
    r"\b(?:an derselben stelle|an der gleichen stelle|at the same (?:point|place|spot))\b",
    # The backup itself, not a machine or place for it: "egal welchen Backup-Server",
    # "no matter which backup server I use as proxy", "egal welches Sicherungsziel".
    r"\begal (?:welche\w*|von wann|wie alt|aus welche\w*|mit welche\w*)\s+(?:\w+\s+)?(?:tag|tage|datum|"
    r"stand|sicherung(?!s?(?:ziel|server|gerät|laufwerk|software|programm))\w*|backups?|band|bänder|"
    r"versions?|saveset\w*|zeitpunkt|kopie)\b" + _NOT_A_PLACE,
    r"\b(?:no matter (?:which|what|how old)|whichever)\s+(?:\w+\s+)?(?:day|date|backups?|tapes?|"
    r"versions?|savesets?|restore points?|cop(?:y|ies))\b" + _NOT_A_PLACE,
)
# Backups tried one per line, each with its result: the rows of a list or table of restore
# points ("2026-11-03 22:00   failed after 4 min", "restore from Thursday night -> same",
# "22.11. 22:00 StoreOnce gleiche Meldung"). TRIED_WHEN names the backup; classify counts
# the rows with distinct ones (a pasted log's lines all carry one restore's date).
TRIED_WHEN = _rx(
    r"(?<![\d.])\b\d{1,2}\.\d{1,2}\.(?:\d{2,4}\b)?(?!\d)",  # not "sesam 5.1.0.4"
    r"\b\d{4}-\d{2}-\d{2}\b",
    r"\b(?:montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag|monday|tuesday|"
    r"wednesday|thursday|friday|saturday|sunday)\w*",
    r"\b(?:last|previous|yesterday'?s?) (?:night|week|weekend)\b",
    r"\b(?:gestern|vorgestern|vortag|vorwoche|letzte\w* (?:nacht|woche))\b",
    r"\b(?:weekly|monthly|wochen|monats)[- ]?(?:full|voll\w*)\b",
    alone=True,
)
TRIED_RESULT = _rx(
    r"\bfail\w*",
    r"\b(?:abbruch|abgebrochen|aborted|scheitert|gescheitert)\b",
    r"\b(?:error|fehler)\b",
    r"\b(?:same|gleiche\w*|dasselbe|derselbe|genauso|ebenso|identisch\w*|identical)\b",
    alone=True,
)
LOG_TIME = re.compile(r"\b\d\d:\d\d:\d\d\b")  # a log line's, not a row's "22:00"
# Another backup tried with the same result, in any words, read as the two in one sentence
# (classify: older_fail): "mit der Sicherung vom Montag und der von letzter Woche kommt
# genau dasselbe", "the backups from Wednesday and last week: same message".
BACKUP_WORD = _rx(
    r"\b\w*sicherung\w*",
    r"\bbackups?\b",
    r"\bbänder\w*",
    r"\bband\b",
    r"\bkassette\w*",
    r"\bcartridges?\b",
    r"\bmedi(?:um|en|a)\b",
    r"\btapes?\b",
    r"\bsavesets?\b",
    r"\w*kopien\b",  # "Auslagerungskopien"
    r"\bcopies\b",
    r"\bsnapshots?\b",
    r"\brestore points?\b",
    r"\bsicherungsst[aä]nd\w*",
    r"\bst[aä]nden?\b",  # "die Stände von vorgestern", "mit den Ständen von Donnerstag"
    r"\bversionen\b",
    r"\bversions\b",
)
SAME_RESULT = _rx(
    r"\b(?:dasselbe|derselbe|dieselbe|das gleiche|genauso|ebenso|enden gleich)\b",
    r"\b(?:de[mnrs]|zum |zur |im |beim )selben\b",
    r"\bidentisch\w*",
    r"\bidentical\b",
    r"\bgleiche\w* (?:fehler\w*|meldung|abbruch|ergebnis|problem|bild)\b",
    r"\bsame (?:error|message|result|problem|failure|abort|thing|way|fault|story|words|text|output)\b",
    r"\bsame\s*[.!:;]",
    r"\bsame with\b",  # "Same with the backups of the two nights before."
    r"\b(?:immer|jedes mal|überall)\s+(?:gleich|dasselbe|das gleiche)\b",
    r"\balways the same\b",
    r"\b(?:makes?|made) no difference\b",
    r"\bmacht(?:e)? keinen unterschied\b",
    r"\bimmer (?:das|dasselbe)\s*(?:$|[.!])",
    r":\s*same\b",
)
NO_OTHER_COPY = _rx(
    r"\bno other (?:copy|backup)\b",
    r"\bno (?:second|further|additional|spare) (?:copy|backup)\b",
    # No standby to switch to: "We have no standby database", "Eine Standby-Datenbank gibt
    # es nicht".
    r"\bno standby\b",
    r"\bnothing else to restore from\b",
    # Said where a copy would be: "We have nothing else - no replica, no snapshots", "Sonst
    # haben wir nichts." (not "sonst haben wir nichts geändert", "nothing else to add").
    r"\b(?:we have|we've got|there is|there's) nothing else\s*(?:[.,;:!)\u2013-]|$)",
    r"\b(?:sonst|ansonsten|darüber hinaus|mehr) (?:haben wir|gibt es|hätten wir)\s+(?:leider\s+)?"
    r"(?:auch\s+)?nichts\s*(?:[.,;:!)\u2013-]|$)",
    r"\b(?:we have|there is|there are) no (?:replicas?|mirror|snapshots?)\b(?:\s*(?:,|or|and|nor)\s*"
    r"(?:no )?(?:replicas?|mirror|snapshots?|cop(?:y|ies)|exports?))*\s*(?:[.,;:!)]|$)",
    r"\bstandby-?(?:datenbank|system|server)?\b[^.\n]{0,30}\b(?:gibt es|haben wir)\b[^.\n]{0,20}\bnicht\b",
    r"\bkein\w* standby",
    r"\bno (?:tape )?copy\b",
    r"\b(?:andere|weitere|zweite) kopie\b[^.\n]{0,40}\b(?:haben wir nicht|gibt es nicht|"
    r"existiert nicht|existieren nicht)\b",
    r"\bkeine (?:andere|weitere|zweite) kopie\b",
    r"\b(?:eine )?(?:dritte|vierte|weitere)\b[^.\n]{0,10}\bgibt es nicht\b",
    r"\bkopie\b[^.\n]{0,30}\b(?:haben|hat|hätten|hamma|hätt ma|gibt es|gäbe es|existiert)\b"
    r"(?: wir| er| sie)?[^.\n]{0,25}\bnicht\b",
    r"\bkein(?:en)? plan b\b",
    r"\bno plan b\b",
    r"\bthere is no other copy\b",
    r"\bno restore (?:is )?possible\b",
    r"\bkein\w* (?:restore|rücksicherung) (?:ist )?möglich\b",
    r"\bnothing can be restored\b",
    # "Ein anderes Backup haben wir nicht", "Eine andere Sicherung haben wir nicht" (not
    # "andere Sicherungen haben wir nicht geprüft").
    r"\b(?:andere|weitere|zweite)s? (?:backup|sicherung\w*)\b[^.\n]{0,40}\b(?:haben wir nicht|gibt es nicht)\b"
    r"(?!\s+(?:ge\w+t|\w+iert|\w+en)\b)",
    r"\bkein\w* (?:andere\w*|weitere\w*|zweite\w*) (?:backup|sicherung\w*|kopie)\b",
    # "We do not have any other copy", "eine weitere Kopie gibt es nach Auskunft des
    # Dienstleisters nicht".
    r"\b(?:do not|don't|did not|didn't) have (?:any |an )?(?:other|second|further|spare) (?:copy|backup)\b",
    r"\b(?:andere|weitere|zweite) kopie\b[^.\n]{0,50}\b(?:gibt es|haben wir|existiert)\b[^.\n]{0,40}\bnicht\b",
    # "no replica of this database anywhere else", "another copy (snapshot, export) ->
    # there is none".
    r"\bno (?:replica|copy|backup)\b[^.\n]{0,40}\b(?:anywhere else|elsewhere)\b",
    r"\b(?:another|other|second) (?:copy|backup|replica)\b[^.\n]{0,40}(?:there is none|there are none|none exists?)\b",
    # The object first: "Other copy of this database we do not have."
    r"\b(?:another|other|second|any other) (?:copy|backup)\b[^.\n]{0,40}\b(?:we|i) (?:do not|don't|did not|didn't) have\b",
)
# The data lost exists nowhere else ("We do not have the mails anywhere else", "die wir
# nirgends sonst haben"): SPEC's "important data no longer available", which the rest of
# the business going on does not make Minor. Not yet nothing left to restore from: the
# corpora's writers say it of a day's bookings or one folder while the system runs.
NOWHERE_ELSE = _rx(
    r"\b(?:do not|don't|did not|didn't) have\b[^.\n]{0,40}\b(?:anywhere else|elsewhere)\b",
    r"\b(?:exists?|stored|kept|are|is)\s+nowhere else\b",
    r"\b(?:are|is|exists?) only (?:in|on) (?:the|our) (?:\w+ )?(?:backups?|tapes?)\b",
    r"\b(?:nirgends|nirgendwo)\s+(?:sonst|anders)\b",
    r"\b(?:sind|ist|liegen|liegt|gibt es) (?:\w+ )?nur (?:noch )?(?:in|auf) (?:der|dem|den) "
    r"(?:\w+ )?(?:\w*sicherung|backups?|bändern|band)\b",
)
# Data, not the work: "keine der 40 Dateien kann geöffnet werden" is data lost (Major),
# "keine unserer 80 Filialen kann etwas verkaufen" a standstill.
_DATA = r"datei|daten|file|pdf|dokument|document|mail|tabelle|table|ordner|folder|verzeichnis"
# Production / the business is halted.
HALT = _rx(
    r"\b(?:production|operations?|company|business|plant|services|lines?|factory|shop|mill)\b"
    r"[^.\n]{0,40}\b(?:is |are )?(?:down|stopped|halted|standing still|at a standstill)\b",
    r"\b(?:standstill|stillstand)\b",
    r"\bno business (?:activity )?(?:is )?possible\b",
    r"\b(?:cannot|can't|can not|are unable to) do any (?:business|work)\b",
    r"\b(?:office|shop|plant|factory|practice|clinic|branch|business)\b[^.\n]{0,20}\b(?:is|are) "
    r"(?:effectively |completely |basically )?shut\b",
    r"\b(?:produktion|fertigung|betrieb|werk|firma|lager)\w*\s+(?:steht|stehen|ruht|ruhen)\b",
    r"\bsteh(?:t|en) still\b",  # "steht seit 6 Uhr": see the clause-end rule below
    # Inverted order after an adverbial: "seit 6 Uhr steht der Betrieb still".
    # Where it stands may come between: "steht die Produktion bei Müller komplett still"
    # (not a job or a device that hangs: "steht der Job seit Stunden still").
    r"\bsteh(?:t|en)\s+(?:der|die|das|bei uns|unser\w*|hier)\s+"
    r"(?!\w*(?:job|sicherung|backup|restore|laufwerk|band|drive|dienst|service|task|vorgang)\w*\b)"
    r"(?:\w+\s+){0,4}still\b",
    r"\bkeinerlei geschäftsbetrieb\b",
    r"\bkein(?:en)? geschäftsbetrieb\b",
    r"\bohne \w+ (?:können|kann) wir kein\w*",
    r"\bkönnen wir (?:seit (?:der |dem |heute )?[\w.:]+(?: uhr)? )?kein\w* (?:einzig\w* )?\w+ \w+",
    # The work stopped, what the business does not done: "die Sekretariate haben ihre Arbeit
    # eingestellt", "verkaufen wir in keinem unserer Häuser ein Ticket", "0 von 58 Bahnen
    # haben das Depot verlassen".
    r"\b(?:arbeit|betrieb|geschäftsbetrieb|produktion|verkauf|fertigung)\s+(?:\w+\s+)?eingestellt\b",
    r"\b(?:verkaufen|produzieren|liefern|fertigen|buchen|kassieren|versenden|verladen|fakturieren|"
    r"bedienen|abfertigen|behandeln) wir\b[^.\n]{0,40}\bkein\w*",
    r"\b(?:0|null|none|kein(?:e|er)?)\s+(?:von|of|out of|der|unserer)\s+(?:unseren\s+|our\s+|den\s+|the\s+)?"
    r"\d+\s+(?!(?:[\w-]+\s+)?[\w-]*(?:"
    + _DATA
    + r"))[\w-]+\b[^.\n]{0,40}\b(?:verlassen|gefahren|ausgefahren|abgefahren|ausgeliefert|ausgerückt|left|departed|"
    r"shipped|sold|verkauft|produziert|produced|geöffnet|opened)\b",
    r"\bno \w+ can be (?:loaded|started|shipped|produced|processed)\b",
    r"\b(?:nobody|no one|niemand|keiner)\b[^.\n]{0,30}\b(?:can|kann)\b[^.\n]{0,20}\b(?:work|arbeiten)",
    r"\bnothing works\b",
    r"\b(?:nichts geht mehr|geht nichts mehr|lahmgelegt|paraly[sz]ed)\b",
    r"\b(?:geht|funktioniert|läuft)\s+(?:gar |überhaupt |absolut )?nichts mehr\b",
    # "im Moment geht davon gar nichts", "seither läuft überhaupt nichts".
    r"\b(?:geht|funktioniert|läuft)\s+(?:\w+\s+){0,3}(?:gar|überhaupt|absolut) (?:nichts|nix)\b",
    # Everything of a kind dead or down: "all ticket desks and gates dead since 07:30".
    r"\b(?:all|alle)\b[^.\n]{0,60}\b(?:dead|offline)\b",
    # Nobody can do the work, nothing can be done: "kann bei uns niemand einen Akt öffnen",
    # "no pallet can be booked", "none of our vessels may load or leave".
    r"\b(?:kann|können)\s+(?:bei uns\s+|hier\s+|seither\s+|seitdem\s+|heute\s+|also\s+|jetzt\s+){0,2}"
    r"(?:niemand(?:en)?|keiner)\b",
    # Every site dead or closed: "Kassa in allen 9 Shops tot".
    # Not "in allen Fällen kommt es zu einem Abbruch" ("zu" ends its clause when closed).
    r"\bin (?:allen|all) (?:\d+ )?(?!(?:fällen|cases|versuchen|attempts|jobs|läufen|runs)\b)\w+\b"
    r"[^.\n]{0,20}\b(?:tot|dead|offline|zu(?=\s*(?:$|[.,;!]))|geschlossen|closed)\b",
    r"\bno \w+ (?:can|could|may) be (?:\w+ )?(?:\w+ed|done|made|sold|shipped|built|run)\b",
    r"\bnone of (?:our |the )?(?:\d+ )?\w+ (?:can|could|may)\b",
    # "kann keine unserer 412 Annahmestellen einen Schein annehmen", "nothing goes out",
    # "23 trucks are standing at the docks", "vier Tanker liegen auf Reede".
    r"\b(?:kann|können|konnte) (?:kein\w*|keiner) (?:unserer|der) (?:\d+ )?"
    r"(?!\w*(?:client|server|job|sicherung|backup|laufwerk|band|rechner|vm|" + _DATA + r"))[\w-]+",
    r"\bnothing (?:goes|went|gets|leaves|moves) (?:out|anywhere)\b",
    # "dürfen unsere Ärzte keine Behandlung beginnen".
    r"\b(?:dürfen|können|kann|darf) (?:unsere|die|der|das) \w+ (?:kein\w*|nicht) (?:\w+ )?"
    r"(?:beginnen|anfangen|starten|arbeiten|behandeln|annehmen|ausliefern)\b",
    # Not a single one of what the business makes: "es kommt keine einzige Seite an",
    # "not a single pallet left" (not an error, a warning or a backup that is not there).
    r"\bkein(?:e|en|er|es)? einzige[nrs]? (?!(?:\w*(?:fehler|meldung|warnung|problem|sicherung|"
    r"backup|job|band|datei|mail))\b)[\w-]+",
    r"\bnot (?:a|one) single (?!(?:error|warning|problem|backup|job|tape|file|mail|message)s?\b)\w+",
    r"\b(?:\d+|zwei|drei|vier|fünf|sechs|sieben|acht|neun|zehn|elf|zwölf|two|three|four|five|"
    r"six|seven|eight|nine|ten|eleven|twelve) (?:\w+-)?(?:trucks|lorries|lkw|lastwagen|laster|ships|vessels|schiffe|tanker|busse|"
    r"buses|trains|züge)\b[^.\n]{0,40}\b(?:standing|waiting|idle|stehen|warten|liegen)\b",
    # "seit heute früh können wir nichts mehr verwiegen", "kein Bus fährt", "kein Schiff
    # darf ablegen", "die 7-Uhr-Fähre und alles danach fällt aus".
    r"\b(?:können|kann|dürfen|darf)\s+(?:wir|ich|die \w+|niemand)\s+(?:\w+\s+){0,2}nichts\s+mehr\b",
    r"\bkein\w* (?:einzige\w* )?(?!\w*(?:sicherung|backup|job|restore|mail|meldung|fehler|nachricht|warnung|alarm|bericht|report))\w+ "
    r"(?:fährt|fahren|läuft|laufen|produziert|startet|fliegt|legt ab|darf ablegen|geht raus|"
    r"geht hinaus|verlässt)\b",
    r"\b(?:darf|dürfen|kann|können) kein\w* \w+ (?:ablegen|abfahren|starten|losfahren|ausrücken)\b",
    r"\b(?:darf|dürfen|kann|können)\b[^.\n]{0,20}\bnicht (?:ablegen|abfahren|starten|losfahren|ausrücken)\b",
    # "mill is standing", "no feed is produced", "without playout we have no programme at all".
    r"\b(?:mill|plant|factory|line|warehouse) (?:is|are) standing\b",
    r"\bno \w+ (?:is|are|was|were|gets?) (?:being )?(?:produced|made|shipped|sold|delivered|loaded|"
    r"printed|built|dispatched)\b",
    r"\bwithout\b[^.\n]{0,30}\bwe have no\b[^.\n]{0,30}\bat all\b",
    r"\balles\b[^.\n]{0,40}\b(?:fällt aus|fallen aus)\b",
    r"\bno (?:truck|lorry|bus|train|ship|vessel|car|parcel|pallet|lot|order|patient)s? "
    r"(?:in or out|moves|leaves|arrives|runs|goes out|is sold|can leave)\b",
    r"\b(?:(?:dürfen|können) wir|wir (?:dürfen|können))\b[^.\n]{0,60}\b(?:keine einzige\w*|nichts)\b",
    # The company itself, not a department: "Ohne das Programm können wir die Milch nicht
    # annehmen", "we cannot accept, build up or release a single shipment" (not "der
    # Vertrieb kann keine Angebote erstellen").
    r"\bohne\b[^.\n]{0,40}\b(?:können|dürfen) wir\b[^.\n]{0,60}\b(?:nicht|kein\w*|nichts)\b",
    r"\bwithout\b[^.\n]{0,40}\bwe (?:cannot|can't|can not)\b",
    r"\bwe (?:cannot|can't|can not) (?:\w+,? ){0,4}(?:or |and |nor )?(?:\w+ )?(?:a single|any) "
    r"(?:\w+ )?(?:shipment|order|delivery|customer|patient|guest|truck|flight|train|bus|ship|"
    r"vessel|parcel|pallet|invoice|booking|ticket|product|batch)s?\b",
    r"\b(?:come|came|comes|coming|ground) to a (?:complete |full |total )?(?:halt|standstill)\b",
    r"\bwe(?:'re| are)\s+(?:completely |totally |fully |still )?down\b(?!\s+to\b)",
    r"\b(?:stores|shops|branches|sites|offices|warehouses?|everything)\s+(?:is |are |was |were )?"
    r"(?:completely |totally |all )?(?:down|stopped|halted)\b",  # not "everything slowed down"
    r"\b(?:complete outage|kompletter ausfall)\b",
    r"\b(?:können|kann)\b[^.\n]{0,40}\bnicht (?:mehr )?(?:arbeiten|verkaufen|produzieren|ausliefern|liefern|buchen|kassieren)\b",
    r"\b(?:cannot|can't|can not)\b[^.\n]{0,30}\b(?:sell|ship|produce|operate|trade|work)\b[^.\n]{0,30}\b(?:at all|anymore|any more|anything)\b",
    r"\b(?:alle|sämtliche) (?:filialen|standorte|mitarbeiter\w*)\b[^.\n]{0,40}\b(?:stehen|steht|nicht arbeiten)\b",
    r"\b(?:whole|entire|complete) (?:company|business|plant|office|staff)\b[^.\n]{0,30}\b(?:cannot|can't|is unable to|stands? still)\b",
    # German "X steht" at the end of a clause is a standstill whatever X is ("Weberei
    # steht", "die Frühschicht (60 Leute) steht seit sechs Uhr"); not where something is
    # written ("wie im Log steht", "was in der Doku steht") and not a job or a device that
    # hangs. Written from "steh" on, with the word before it in lookbehinds: the literal
    # opens the match, so it is tried only where "steht" occurs (a leading [\w-]{2,} was
    # tried at every word of every text: 0.6 ms a mail).
    r"(?<=\w\w[\w)]\s)"
    r"(?<!\bwas )(?<!\bdas )(?<!\bes )(?<!\bdies )(?<!\bhier )(?<!\bda )"
    r"(?<!\bdort )(?<!\bso )(?<!\boben )(?<!\bunten )(?<!\bdrin )(?<!\bnichts )"
    r"(?<!\balles )(?<!\bwie )"
    r"(?<!job )(?<!sicherung )(?<!backup )(?<!restore )(?<!task )(?<!prozess )"
    r"(?<!vorgang )(?<!fortschritt )(?<!anzeige )(?<!display )(?<!status )(?<!balken )(?<!laufwerk )"
    r"(?<!band )(?<!drive )(?<!dienst )(?<!service )(?<!client )(?<!server )"
    r"(?<!vm )(?<!datei )(?<!meldung )(?<!log )(?<!sesam )(?<!oberfläche )"
    r"(?<!gui )(?<!fenster )(?<!konsole )(?<!bildschirm )(?<!liste )(?<!spalte )"
    r"(?<!feld )(?<!mail )(?<!text )(?<!hinweis )(?<!handbuch )(?<!doku )"
    r"(?<!dokumentation )(?<!anleitung )(?<!wiki )(?<!faq )(?<!datenblatt )(?<!ticket )"
    r"(?<!betreff )(?<!protokoll )(?<!bericht )(?<!report )(?<!kalender )(?<!zeile )"
    r"steh(?:t|en)(?:\s+(?:still|komplett|völlig|seit(?:\s+[\w-]+){1,3}))?\s*(?:$|[-–—,;:!.])",
    # ...or with the whole of it after the verb: "bei uns steht seit heute die ganze Sägerei".
    r"\bsteh(?:t|en)\b[^.,;\n]{0,30}\b(?:die|der|das|unser\w*) (?:ganze|gesamte|komplette)\w* \w+",
    # ...or any: "seit kurz nach 4 Uhr steht bei uns die Abfüllung." (clause ends after it).
    r"\bsteh(?:t|en)(?:\s+(?:seit\s+[\w.:]+(?:\s+uhr)?|heute|bei uns|hier|jetzt|momentan|gerade|"
    r"komplett|völlig|schon|wieder))+\s+(?:die|der|das|unser\w*)\s+"
    r"(?!\w*(?:job|sicherung|backup|restore|meldung|fehler|log|text|hinweis|status|anzeige)\b)"
    r"[a-zäöüß][\w-]+\s*(?:$|[-–—,;:!.]|\bstill\b)",
    r"\b\w+\s+(?:stehen|steht|sitzen|sitzt)\s+(?:\w+\s+)?(?:herum|rum|untätig)\b",
    # The staff cannot work: "kann keiner der 22 Mitarbeiter arbeiten", "die Leute stehen
    # herum", "staff were sent home", "the line is idle".
    r"\b(?:kann|können|can)\s+(?:kein(?:e|er)?|niemand|nobody|no one)\b[^.\n]{0,40}\b(?:arbeiten|work)",
    r"\b(?:leute|mitarbeiter\w*|belegschaft|\w*schicht|staff|employees|workers|shift|crew)\b[^.\n]{0,40}"
    r"\b(?:stehen herum|sitzen\b[^.\n]{0,30}\b(?:herum|rum|untätig|vor leeren)|nach hause|"
    r"(?:sent|go|went) home|idle|warten)\b",
    r"\b(?:is|are|sits?|stands?|lies?|lie|stay\w*|remain\w*|has been|have been|was|were|sitting|"
    r"standing) "
    r"(?:completely |totally |all )?idle\b",
    r"\b(?:plant|line|factory|production|site|mill|warehouse|shop floor|fleet)\s+idle\b",
    # The business cannot open: "we cannot open on Monday", "Bürgerbüro und Stadtkasse
    # bleiben heute geschlossen", "the shop had to stay closed".
    r"\b(?:we|the (?:shop|store|practice|office|clinic|branch|restaurant|school|library|pharmacy|"
    r"hotel|salon|surgery))\s+(?:cannot|can't|can not|could not|won't be able to|will not be able to)"
    r"\s+(?:re)?open\b(?!\s+(?:the|a|an|this|that|it|its|any|files?|gui|console|jobs?|logs?))",
    r"\b(?:bleib\w*|müssen|mussten|haben|hat|sind|ist)\b[^.\n]{0,40}\bgeschlossen\b(?! werden)",
    r"\b(?:had to|must|have to|will|stay|stays|stayed|remain\w*) (?:\w+ ){0,3}closed\b",
)
# The business cannot go on without what the failing restore should bring back (SPEC
# Critical: "without a successful restore no business activity is possible"), said as a
# dependency or as work that cannot be done, in a clause of its own: "Ohne die Datenbank
# kann niemand Aufträge erfassen", "without the ERP data no orders can be shipped",
# "ohne das System können keine Patienten aufgenommen werden", "the plant cannot work".
# Read only beside a failing restore whose older backups do not help either.
NO_BUSINESS = _rx(
    # German compounds name what is lost: "ohne die Auftragsdatenbank", "ohne das ERP-System".
    r"\bohne (?:\w+ ){0,2}[\w-]*(?:daten|system|server|dateien|anwendung|programm|software|"
    r"erp|warenwirtschaft|rechner|computer)\w*\b[^.\n]{0,80}\b(?:nicht|kein\w*|niemand|nichts)\b",
    r"\bwithout (?:\w+ ){0,2}(?:data|database|system|server|files|application|software|erp)\b"
    r"[^.\n]{0,80}\b(?:cannot|can't|can not|unable|no one|nobody|nothing|no \w+ can)\b",
    r"\bohne (?:ihn|sie|es|das|die|den|dem|diese\w*)\b[^.\n]{0,80}\b(?:nicht|kein\w*|niemand|nichts)\b",
    # "Ohne Dispo bekommt kein Fahrer seinen Dienst", "ohne Check-in haben wir keine Liste".
    # (Case is ignored: not "ohne weiteres", "ohne Erfolg", "ohne Fehler".)
    r"\bohne (?!(?:weiteres|erfolg|fehler|probleme?|ergebnis|unterbrechung|änderung)\b)"
    r"[a-zäöü][\w-]*\b[^.\n]{0,60}\b(?:kein\w*|niemand|nichts)\b",
    r"\bwithout (?:it|them|this|that)\b[^.\n]{0,60}\b(?:cannot|can't|can not|unable|no one|"
    r"nobody|nothing|no \w+ can)\b",
    r"\b(?:können|kann)\b[^.\n]{0,60}\b(?:nicht|kein\w*(?: \w+){1,2}) (?:mehr )?(?:arbeiten|weiterarbeiten|produzieren|"
    r"ausliefern|liefern|verkaufen|fakturieren|abrechnen|buchen|kassieren|öffnen|aufmachen|"
    r"annehmen|abfüllen|herstellen|fertigen|versenden|verschicken|abfertigen|behandeln|fahren)\b",
    r"\b(?:können|kann)\s+(?:wir|ich|die \w+|niemand)\s+(?:\w+\s+){0,2}nichts (?:mehr )?(?:\w+ ){0,3}"
    r"(?:bearbeiten|erfassen|buchen|ausliefern|liefern|abfertigen|produzieren|verkaufen|"
    r"fakturieren|abrechnen|verrechnen|verschicken|versenden|annehmen|abfüllen|herstellen|"
    r"fertigen)\b",
    r"\b(?:können|kann)\b[^.\n]{0,60}\bkein\w* (?:\w+ ){1,2}(?:\w+t|\w+en) werden\b",
    r"\b(?:können|kann) (?:wir |die \w+ )?weder\b[^.\n]{0,60}\bnoch\b",
    r"\b(?:cannot|can't|can not|unable to) (?:\w+ (?:or|and|nor) )?(?:work|operate|produce|ship|sell|trade|invoice|bill|"
    r"take orders|dispatch|deliver|serve|treat|admit|load|book|manufacture|process orders)\b",
)
# The business goes on, whatever failed: "the practices keep treating patients", "everyone
# can carry on with current matters", "they continue to work on their current projects",
# "the live database is fine and in use", "die Disposition läuft normal weiter".
# Someone at the fix, not the business going on: "wir arbeiten hier weiter an der Sache".
_AT_THE_FIX = r"(?!\s+(?:an (?:der|dem|einer|diesem) (?:sache|problem|lösung|fehler|fall)|daran|am (?:problem|fehler)))"
CONTINUES = _rx(
    # Not "keeps failing", "continues to abort", "der Restore läuft weiter": the work goes on.
    # Not someone at the fix: "asked me to write while he keeps working on it".
    r"\b(?:keep|keeps|kept) (?:on )?(?:working|treating|serving|operating|selling|producing|"
    r"shipping|trading|building)\b(?! on (?:it|this|that|the (?:problem|restore|issue|server|fix))\b)",
    r"\bcarr(?:y|ies) on\b",
    # Work done by hand meanwhile: "had to rebuild the routes by hand".
    r"\bhad to (?:\w+ ){1,3}?by hand\b",
    # Other work meanwhile: "they are doing repairs instead", "machen stattdessen Reparaturen".
    r"\b(?:are|is|were|was) (?:now )?doing (?:\w+ ){1,3}?instead\b",
    r"\b(?:machen|erledigen|arbeiten)\b (?:\w+ )?stattdessen\b",
    r"\bcontinues? (?:to (?:work|treat|serve|operate|sell|produce|ship|trade)|working|operating)\b",
    r"\b(?:is|are) (?:fine|running|working) and (?:in use|running)\b",
    r"\b(?:wir|alle|kollegen|mitarbeiter\w*|betrieb|produktion|disposition|geschäft\w*|praxis|"
    r"büro|laden|werk)\b[^.\n]{0,30}\b(?:arbeiten|arbeitet|läuft|laufen)\b[^.\n]{0,20}\bweiter\b"
    + _AT_THE_FIX,
    r"\bweiterhin normal\b",
    r"\b(?!(?:restore|job|sicherung|backup|rücksicherung|vorgang|task|kopiervorgang)\b)[a-zäöü]\w+\s+"
    r"(?:läuft|laufen|arbeitet|arbeiten)\s+(?:\w+\s+)?(?:weiter|trotzdem)\b" + _AT_THE_FIX,
    r"\b(?:is|are) still (?:running|working|open)\b",
    # "Abfüllung und Verkauf laufen ganz normal", "der Braumeister braut nach den
    # ausgedruckten Blättern weiter".
    r"\b(?:läuft|laufen|erscheint|erscheinen)\s+(?:sonst\s+)?(?:alles\s+)?(?:ganz\s+|völlig\s+)?normal\b",
    r"\b(?:arbeitet|arbeiten|braut|brauen|produziert|produzieren|verkauft|verkaufen|liefert|"
    r"liefern|fertigt|fertigen|behandelt|behandeln)\b[^.\n]{0,40}\bweiter\b" + _AT_THE_FIX,
    r"\b(?:runs|run|works) (?:on )?(?:anyway|nevertheless|regardless)\b",
    r"\bnormal weiter\w*",  # "das Einsatzleitsystem läuft auf eigenen Servern normal weiter"
    # "the translators can still work, but ...", "die Versorgung unserer Gäste ist gesichert".
    # Not "nobody knows how long we can still work".
    r"(?<!\blong we )(?<!\blong they )(?<!\blong you )(?<!\blong i )"
    r"\b(?:can|could) still (?:work|operate|sell|ship|produce|treat|serve|do|take)\b",
    # Not a genitive: "die Daten der Produktion sind gesichert" (backed up).
    r"(?<!\bder )(?<!\bdes )(?<!\bunserer )\b(?:versorgung|betrieb|behandlung|produktion|auslieferung)\b[^.\n]{0,40}\b(?:ist|sind|bleibt) gesichert\b",
    # "The ships are sailing normally", "die Busse fahren ganz normal" (not the restore's job).
    r"\b(?!(?:restores?|jobs?|backups?|tasks?|sesam|drives?|it)\b)[a-z]\w+\s+(?:is|are)\s+(?:still\s+)?"
    r"\w+ing\s+(?:normally|as usual|as normal)\b",
    r"\b(?:fahren|fährt|arbeiten|arbeitet|produzieren|produziert|verkaufen|verkauft|behandeln|"
    r"behandelt|liefern|liefert)\s+(?:\w+\s+)?(?:ganz\s+)?normal\b",
    # Run by hand, at reduced effectiveness: "fährt die Kessel seit heute Nacht von Hand",
    # "Anlage im Handbetrieb", "we run the line manually" (not "von Hand lässt sich die
    # Anlage nicht fahren"). And "Die Wärmeversorgung läuft."
    r"\b(?:fahren|fährt|betreiben|betreibt|steuern|steuert|bedienen|bedient)\b[^.\n]{0,60}"
    r"\bvon hand\b",
    r"\bim handbetrieb\b",
    # "The meeting goes ahead regardless ... but we can run."
    r"\b(?:meeting|event|show|market|sale|production|business|shift|operation)s? (?:goes|go|will go|"
    r"went) ahead\b",
    r"\bbut we can (?:still )?run\b",
    # "an den Flügeln wird nur noch von Hand weitergearbeitet"; "die Werkstatt läuft mit
    # der halben Leistung", "the plant runs at half capacity".
    r"\bweitergearbeitet\b",
    r"\b(?:läuft|laufen|arbeitet|arbeiten|runs?|running|works?)\b[^.\n]{0,30}\b(?:mit|at)\s+"
    r"(?:\w+\s+){0,2}(?:halbe[rn]?|half|reduzierte[rn]?|reduced)\s+(?:leistung|kapazität|capacity|"
    r"speed|tempo)\b",
    r"\b(?:run|running|runs|operate[sd]?|operating)\b[^.\n]{0,40}\b(?:by hand|manually|in manual mode)\b",
    r"\b(?!sicherung|backup)\w*(?:versorgung|produktion|fertigung|betrieb)\s+(?:läuft|laufen)\b"
    r"(?!\s+(?:nicht|kaum|seither|seitdem|bisher|bis))",  # not "Betrieb läuft seither normal"
    # "the factory itself runs normally" (not the backup's own run).
    r"\b(?!(?:restores?|jobs?|backups?|tasks?|sesam|it|drives?|server|service)\b)[a-z]\w+\s+"
    r"(?:itself\s+)?(?:still\s+)?(?:runs|operates) normally\b",
)
# Old or archived data: restoring it is important, not the business's life ("older ones are
# restored from the archive", "files from their project archive", "Altdaten von 2024").
ARCHIVE = _rx(
    # Not a database's archive logs ("the last full backup plus archive logs").
    r"\b(?!archiv(?:e)?[- ]?logs?\b)archiv\w*",
    r"\b(?:older|old|earlier|previous) (?:images|files|documents|plans|data|projects|records|"
    r"correspondence|studies|mails)\b",
    r"\b(?:ältere|alte|alten|früheren) (?:bilder|dateien|dokumente|pläne|daten|projekte|"
    r"unterlagen|akten|mails)\b",
    r"\baltdaten\b",
)
# Data nobody needs now ("wird aktuell nicht gebraucht", "is not needed until
# December"), or none lost: it is there another way ("es ist also nichts verloren").
NOT_NEEDED = _rx(
    r"\b(?:wird|werden) (?:\w+ )?nicht (?:mehr )?gebraucht\b",
    r"\b(?:is|are) not (?:currently |immediately )?needed\b",
    r"\b(?:(?:ist|sind) (?:\w+ )?nichts verloren|nichts ist verloren|nothing (?:is |was |has been )?lost|"
    r"no data (?:is |was |has been )?lost)\b",
)
# The business got going again (so it is not Critical any more).
RECOVERED = _rx(
    r"\bthis one worked\b",
    r"\b(?:can|could) (?:work|record|operate|sell|produce|ship|book|treat) again\b",
    r"\bworks? again\b",
    r"\bwieder arbeiten\b",
    r"\barbeiten wieder\b",
    r"\b(?:betrieb|produktion|geschäftsbetrieb|business|production)\b[^.\n]{0,20}\b(?:läuft wieder|"
    r"runs again|is running again)\b",
    r"\b(?:restore|rücksicherung)\w* [^.\n]{0,60}\b(?:worked|hat funktioniert|hat geklappt)\b",
    r"\b(?:this|that) one (?:was )?work(?:ed|ing)\b",
    r"\b(?:is|are|was|were) (?:\w+ )?working again\b",
    # "seither läuft bei uns wieder alles", "everything is running again".
    r"\b(?:läuft|laufen|funktioniert|geht)\b[^.\n]{0,30}\bwieder alles\b",
    r"\balles (?:läuft|funktioniert|geht) wieder\b",
    r"\beverything (?:is |has been )?(?:running|working|back up) again\b",
    # Put right already: "IT got everything back by lunchtime, so nothing is broken now".
    # Said, not asked: "We got everything back? No."
    r"\b(?:got|have|had|brought) (?:everything|it all|all of it) back\b(?!\s*\?)",
    r"\bnothing is broken (?:now|any more|anymore)\b",
    r"\b(?:alles|alle daten) (?:ist |sind |war |waren )?wieder da\b(?!\s*\?)",
    # People or a business at work again, told with words between: "seit 07:00 läuft der
    # Check-in in allen 9 Studios wieder und ...", "arbeiten unsere Uhrmacher wieder, mit ...".
    # Not a job's own run ("läuft die Sicherung wieder nicht", "laufen wieder in Fehler").
    # The ones at work named after the verb ("der Check-in", "unsere Uhrmacher"). Not the
    # machines: "unsere Server laufen ja alle wieder", "HV02 läuft inzwischen wieder", "Der
    # Host läuft nach dem Tausch des Controllers wieder" (the data is still lost).
    r"\b(?:arbeiten|arbeitet|läuft|laufen)\s+(?!(?:die|der|das|den)\s+(?:sicherung|job|backup|"
    r"restore|rücksicherung|wiederherstellung|dienst|task|server|host)\w*)"
    r"(?:der|die|das|den|unsere?|alle)\s+(?:[\w-]+\s+){0,7}?wieder"
    r"(?=\s*(?:[,.;:!]|und\b|mit\b|$))",
    r"\b(?:is|are) (?:usable|in use|available) again\b(?!\s*\?)",
    r"\bwieder (?:nutzbar|benutzbar|verfügbar)\b(?!\s*\?)",
)
# An older backup that restored: SPEC's Critical is where older backups do not help, and
# data got back from one is no longer unavailable (classify: not Major for that alone).
OLDER_RESTORED = _rx(
    # "Die Vollsicherung vom Sonntag lässt sich zurücksichern"; not "... lässt sich nicht ...".
    r"\b\w*(?:backup|sicherung)\s+(?:of|from|vom|von)\s+[^.\n]{1,30}?\b(?:restores? fine|"
    r"restored (?:fine|successfully|without (?:any )?(?:problems?|errors?))|"
    r"(?:lässt|ließ|liess|lassen|ließen|liessen) sich (?:(?!nicht\b|nie\b|kaum\b)\w+ )?"
    r"(?:zurückholen|zurückspielen|zurücksichern|wiederherstellen))\b",
    # "Mit der Sicherung von Donnerstagnacht hat es geklappt", "with the backup from
    # Thursday it worked".
    r"\b(?:mit|aus) (?:der|dem) (?:sicherung|backup|saveset|band)\w*\s+(?:von|vom)\s+"
    r"[^.\n]{1,30}?\b(?:hat es|hat's|ging es|klappte es)\s+(?:\w+\s+)?(?:geklappt|funktioniert)\b",
    r"\bwith the (?:backup|saveset|tape) (?:of|from)\s+[^.\n]{1,30}?\bit worked\b",
    r"\brestored the (?:\w+ )?(?:backup|saveset) (?:of|from)\s+[^.\n]{1,30}?\bsuccessfully\b",
)
# Data said to be lost though an older backup restored: "six days of work ... are gone",
# "everything from November is gone", "die Buchungen der Woche sind verloren".
DATA_GONE = _rx(
    # Not "nothing is lost", "es ist nichts verloren".
    r"(?<!\bnothing )\b(?:is|are|was|were|has been|have been) (?:(?!nothing\b)\w+ )?(?:gone|lost)\b",
    r"(?<!\bnichts )\b(?:ist|sind|war|waren|bleibt|bleiben) (?:(?!nichts\b)\w+ )?(?:weg|verloren)\b",
    # What the older backup lacks: "da fehlen dann aber alle Lieferungen der letzten sieben
    # Tage", "aber darin fehlen genau die Montagsbestellungen", "but last week's orders are missing".
    r"\b(?:fehlen|fehlt)\s+(?:\w+\s+){0,2}?(?:aber|jedoch)\b",
    r"\b(?:aber|jedoch)\s+(?:\w+\s+){0,2}?(?:fehlen|fehlt)\b",
    r"\b(?:but|however)\b[^.\n]{0,60}\b(?:is|are) missing\b",
)
# The installation is a test, trial or lab, not production.
TEST_SYSTEM = _rx(
    r"\bteststellung\b",
    r"\btestinstallation\b",
    # Not yet in production: SPEC's Critical is for production after the test phase.
    r"\bnoch nicht (?:in betrieb|produktiv|live)\b",
    r"\bnot (?:yet )?(?:in production|live|productive)\b",
    r"\btestsystem\b",
    r"\btest-?vm\b",
    # "ausschließlich um die Testumgebung", "Restore auf Validierungssystem"; "staging".
    r"\b(?:testumgebung|validierungssystem|validierungsumgebung|test environment|"
    r"staging (?:system|environment|server|box))\b",
    # "the MES test system" as "Testsystem" is. Not any test server: "das hatten wir vorher
    # auf dem Testserver ausprobiert" tells of one beside the production that halted.
    r"\btest[- ]system\b",
    r"\bgo-?live (?:is )?(?:planned|scheduled|geplant|vorgesehen)\b",
    # Commissioning: "noch in der Inbetriebnahme", "der produktive Start ist ... geplant",
    # the acceptance test before it. Not "seit der Inbetriebnahme im Frühjahr 2023".
    r"\b(?:noch )?in der inbetriebnahme\b",
    r"\bproduktive[rn]? (?:start|betrieb)\b[^.\n]{0,40}\b(?:geplant|vorgesehen)\b",
    r"\babnahmetest\w*",
    r"\bstill (?:in|being) commissioning\b|\bbeing commissioned\b",
    r"\btestversion\b",
    r"\btestdaten\b",
    r"\btrial\b",
    # A lab is a test system as a partner, home, test or demo lab (the writer's own lab:
    # OWN_LAB); a hospital's "Labor" or "lab" is where the business happens.
    r"\b(?:home|partner|test|demo)[- ]?lab\b",
    r"\blab ?/ ?(?:demo|test)\b",
    r"\blab (?:environment|setup|installation)\b",
    r"\bdemo environment\b",
    r"\b(?:test|partner-?)labor\b",
    r"\blaborumgebung\b",
    r"\blabor\b[^.\n]{0,40}\btest\w*",
    r"\bproduktivsysteme sind nicht betroffen\b",
    r"\bproduction (?:is )?not affected\b",
)
# All backups fail / no backups at all.
# Up to 60 characters of a sentence, a bracketed aside of up to 120 counting as one.
_GAP = r"(?:[^.\n()]|\([^()\n]{0,120}\)){0,60}"
# ``(?>\w*sicherung\w*)``: the word taken whole. Unbounded, a failing match backtracked
# through every earlier "sicherung" of a long word (90 kB of them: 6 s); a match ends at
# the word's end either way.
# The report that says every backup failed is wrong, not the backups: "every single one of
# them is green", "the report is wrong, not the backups".
ONLY_THE_REPORT = _rx(
    r"\b(?:the|this|our) (?:weekly |daily )?(?:report|summary) is wrong\b",
    r"\b(?:der|dieser|unser) (?:\w+)?(?:bericht|report) (?:ist|war) falsch\b",
    r"\b(?:every|each) (?:single )?one of them is green\b",
)
ALL_FAIL = _rx(
    # A bracketed aside may stand in the gaps: "alle Sicherungen unseres SQL-Servers
    # (Warenwirtschaft und Kassendaten aller 6 Filialen) fehl".
    r"\b(?:alle|aller|sämtliche\w*|ausnahmslos)\b(?! ander)(?! übrig)"
    + _GAP
    + r"\b(?:(?>\w*sicherung\w*)|(?>\w*backup\w*)|jobs?)\b"
    + _GAP
    + r"\b(?:fehl|ab|abgebrochen|rot|fail\w*|(?:auf |mit |melden )fehler\w*)\b",
    r"\b(?>\w*sicherung\w*)\b[^.\n]{0,40}\b(?:aller|sämtlicher)\b[^.\n]{0,40}\bfehl\b",
    # "all backup jobs are red this morning", as the German "alle Sicherungsjobs rot".
    r"\ball (?:\w+ ){0,2}(?:backups?|jobs)\b[^.\n]{0,40}\b(?:fail\w*|red|abort\w*)\b",
    r"\bkeine (?:\w+ )?sicherung(?!s?(?:mail|bericht|meldung|benachrichtigung|protokoll|report))\w* mehr\b",
    r"\bkeine sicherung(?!s?(?:mail|bericht|meldung|benachrichtigung|protokoll|report))\w*\b[^.\n]{0,40}\bmehr\b",
    r"\bseit\b[^.\n]{0,40}\bkeine sicherung(?!s?(?:mail|bericht|meldung|benachrichtigung|protokoll|report))\w*",
    r"\bkeine sicherung(?!s?(?:mail|bericht|meldung|benachrichtigung|protokoll|report))\w* (?:des|der|von|seit)\b",
    r"\bno backups? (?:runs?|are running|possible|since|at all)\b",
    r"\bno backups or\b",
    r"\bneither\b[^.\n]{0,60}\bnor\b[^.\n]{0,60}\b(?:work|run)\w*",
    r"\bungesichert\b",
    r"\bunprotected\b",
    r"\bwithout (?:a |any )?(?:complete |current )?backup\b",
    r"\bno (?:\w+ )?backups? (?:for|since|of)\b",
    r"\bhave had no backup\b",
    # "none of our own prod VM backups have run".
    r"\bnone of (?:our|the) (?:[\w-]+ ){0,3}?(?:backups|jobs)\b",
    # "none of last night's backups ran".
    r"\bnone of (?:[\w'’-]+ ){1,4}?(?:backups|jobs)\b[^.\n]{0,30}\b(?:ran|run|completed|succeeded|"
    r"worked|finished)\b",
    r"\bkein\w* (?:einzige\w* )?(?:sicherung|backup|job)\w* (?:läuft|laufen|funktioniert|klappt|"
    r"(?:durch)?gelaufen)\b",
    # Not what runs at one moment: "Es ist dann niemand angemeldet, es läuft kein Job".
    r"(?<!\bes )\b(?:läuft|laufen|lief|liefen)\b(?:\s+\w+){0,4}\s+kein\w* (?:einzige\w* )?"
    r"(?:sicherung|backup|job)",
    r"\bes (?:läuft|lief)\s+kein\w* (?:einzige\w* )?(?:sicherung|backup|job)\w*\s+(?:mehr|durch)\b",
    r"\bnot a single (?:backup|job)\b",
    r"\bno (?:backup|job)s? (?:has |have )?(?:run|ran|completed?|worked|succeeded)\b",
)
NO_ALTERNATIVE = _rx(
    r"\bkein\w* (?:ander\w*|zweit\w*|weiter\w*) (?:möglichkeit|sicherungs\w*|alternative|"
    r"ausweich\w*)",
    r"\b(?:ander\w*|zweit\w*) (?:möglichkeit|sicherungs\w*|alternative|weg|lösung)\b[^.\n]{0,60}"
    r"\b(?:haben wir nicht|gibt es nicht)\b",
    r"\bausweichen können wir nicht\b",
    # "Eine Ausweichmöglichkeit/Alternative haben wir nicht", "an alternative ... we do not have".
    r"\b(?:ausweich\w*|alternative\w*|andere möglichkeit|ersatz\w*)\b[^.\n]{0,30}\b(?:haben wir (?:\w+ )?nicht|"
    r"gibt es (?:\w+ )?nicht)\b",
    # No manual or paper fallback: "einen Papierbetrieb gibt es nicht", "kein Notbetrieb
    # möglich", "there is no manual fallback", "no paper process".
    r"\b(?:papier\w*|notbetrieb\w*|handbetrieb\w*|manuell\w* betrieb)\b[^.\n]{0,40}"
    r"\b(?:(?:gibt es|haben wir)\b[^.\n]{0,30}\bnicht|nicht möglich)\b",
    r"\bkein\w* (?:papier\w*|notbetrieb\w*|handbetrieb\w*)",
    r"\bno (?:manual|paper) (?:fallback|process|workaround|alternative)\b",
    # Work by hand or on paper tried or ruled out: "mit Telefon und Zettel schaffen wir das
    # nicht", "a paper process for 400 pallets is not possible", "nothing we can do by hand".
    r"\b(?:zettel|papier\w*|von hand|per hand|händisch|manuell)\b[^.\n]{0,60}"
    r"\b(?:schaffen wir\b[^.\n]{0,30}\bnicht|nicht möglich|unmöglich|geht nicht|nicht machbar)\b",
    r"\b(?:von hand|per hand|händisch|manuell)\b[^.\n]{0,40}\b(?:können|kann)\b[^.\n]{0,30}\bnicht\b",
    r"\b(?:können|kann) wir\b[^.\n]{0,30}\b(?:von hand|per hand|händisch|manuell)\b[^.\n]{0,30}\bnicht\b",
    r"\b(?:cannot|can't|can not) (?:take|use|go|find|choose) (?:another|an other|any other|a different) way\b",
    r"\b(?:paper|manual)\b[^.\n]{0,60}\b(?:is not possible|isn't possible|impossible|not an option|"
    r"cannot|can't)\b",
    r"\bnothing (?:we|you|anyone) can do (?:by hand|manually)\b",
    r"\b(?:cannot|can't|can not) (?:\w+ ){0,3}(?:on paper|by hand|manually)\b",  # "We cannot make it on paper"
    # "eine Herstellung ohne das System ist bei uns nicht zulässig".
    r"\bohne (?:das|den|die) \w+\b[^.\n]{0,30}\b(?:ist|wäre)\b[^.\n]{0,20}\bnicht (?:zulässig|erlaubt|möglich)\b",
    r"\beinzig\w* sicherungsziel\b",
    r"\bno other (?:backup|copy|protection|way|option|alternative|target)\b",
    r"\bno (?:acceptable )?alternative\b",
    r"\b(?:hardly|not|scarcely) an? (?:acceptable |real |usable )?alternative\b",
    r"\bonly backup target\b",
    r"\bcannot (?:just )?skip\b",
    # "die Sicherung einfach auslassen dürfen wir nicht", "skip the backup we can not".
    r"\b(?:skip\w*|auslassen|weglassen|aussetzen)\b[^.\n]{0,30}\b(?:we can ?not|we can't|"
    r"dürfen wir nicht|können wir nicht|geht (?:auch )?nicht|is not (?:allowed|an option))",
    # The obvious way out is ruled out: "die Sicherung auszulassen ist keine Lösung",
    # "weniger zu sichern ist keine Option", "skipping the backup is not an option".
    r"\b(?:ist|wäre) keine (?:lösung|option|alternative)\b",
    r"\b(?:is|would be) not an (?:option|alternative|acceptable solution)\b",
    r"\bkeine alternative\b",
    # A form's or a table's row: "Ausweichmöglichkeit: keine", "Other copy | None".
    r"\b(?:ausweich\w*|alternative|workaround|umgehung\w*|other copy|andere kopie)\s*[:|–-]?\s*"
    r"(?:keine?|none|nein)\b",
    # A way on that the writer does not have, see or find: "eine Möglichkeit, ohne das
    # System weiterzuarbeiten, sehen wir nicht", "einen Ausweg haben wir nicht gefunden",
    # "we see no way round it", "I don't think there's any way around it".
    r"\b(?:möglichkeit|alternative|ausweg|ausweichmöglichkeit|lösung|weg)\b[^.\n]{0,60}"
    r"\b(?:sehen|haben|finden|wissen|kennen) (?:wir|ich) (?:leider )?(?:nicht|keine?n?)\b",
    r"\b(?:möglichkeit|alternative|ausweg|lösung)\b[^.\n]{0,40}\bnicht gefunden\b",
    r"\b(?:see|have|know|found|find) no (?:other )?(?:way|option|alternative|fallback)\b",
    r"\b(?:don't|do not|cannot|can't|didn't) (?:\w+ ){0,3}any (?:other )?(?:way|option|alternative)s? "
    r"(?:round|around|to|out)\b",
    r"\b(?:there is|there's|we have) nothing else\b",
    r"\b(?:there is|there's|we have) no workaround\b",
    r"\b(?:einen )?workaround gibt es (?:leider )?nicht\b|\bes gibt keinen workaround\b",
)
PERFORMANCE = _rx(
    r"\b(?:very|extremely|so|too|sehr|extrem|viel zu|zu)\s+(?:slow|langsam)\w*",
    r"\bperformance\b",
    r"\bbackup window\b",
    r"\bsicherungsfenster\b",
    r"\b(?:throughput|durchsatz)\b",
    # Slowness in any words: "quälend langsam", "im Schneckentempo", "takes forever",
    # "der Restore läuft mit 3 bis 4 MB/s" (whether it matters, the impact decides).
    r"\b(?:slow|slower|langsam|langsamer)\b",
    r"\b(?:schneckentempo|snail'?s pace|takes? forever|dauert ewig)\b",
    r"\b\d+(?:[.,]\d+)?\s*(?:(?:-|–|bis|to)\s*\d+(?:[.,]\d+)?\s*)?(?:kb|mb|gb)/s\b",
    r"\b(?:but|aber|nur|just|only|einfach)\s+(?:very\s+|sehr\s+|extremely\s+|extrem\s+)?(?:slow|langsam)\b",
    # Work at a fraction of its pace: "mit etwa halber Leistung", "at half speed".
    _HALF_PACE,
    # Times against their usual: "dauert der Lauf 31 statt 9 Stunden", "takes 6 hours
    # instead of 2", "das Öffnen einer Datei dauert Minuten" (no count: it should be none).
    r"\b(?:dauert|dauern|braucht|brauchen|läuft|laufen|takes?|took|runs?|ran)\b[^.\n]{0,30}"
    r"\b\d+(?:[.,]\d+)?\s*(?:h|std\w*|stunden|hours?|min\w*)?\s+(?:statt|anstatt|instead of|rather than|in place of)\s+"
    r"(?:\w+\s+)?\d+(?:[.,]\d+)?\s*(?:h|std\w*|stunden|hours?|min\w*|tage?n?|days?)\b",
    r"\b(?:dauert|dauern|takes?)\s+(?:mehrere\s+|several\s+|many\s+|viele\s+)?(?:minuten|minutes|stunden|hours)\b",
)
IMPACT = _rx(
    r"\bcannot work\b",
    r"\bcan't work\b",
    r"\b(?:nicht|kaum) (?:mehr )?(?:arbeiten|weiterarbeiten)\b",
    r"\b(?:can|could) (?:hardly|barely) work\b",
    r"\b(?:paused|gestoppt|angehalten|anhalten)\b",
    r"\bmust pause\b",
    r"\bdouble the time\b",
    r"\bweiterarbeiten\b",
    r"\bbis auf weiteres\b",
    r"\breduced\b",
    r"\beingeschränkt\b",
    r"\bstopped (?:all|any)\b",
    # Work moved to paper: "half of the planning on paper", "Touren auf Papier festhalten".
    r"\b(?:on paper|auf papier|mit papier und stift|with pen and paper|mit zetteln?)\b",
    _HALF_PACE,
    r"\b(?:data|daten)\b[^.\n]{0,40}\b(?:missing|unavailable|fehlen|nicht verfügbar)\b",
    r"\bwe need the\b[^.\n]{0,30}\bdata\b",
    r"\bhas stopped working\b",
    r"\bwill stop\b",
    r"\b(?:lä?uft|laufen|lief|liefen) (?:\w+ )?voll\b",
    r"\b(?:filling|fills|filled|running) (?:up|full)\b",
    r"\bfilling up\b",
    r"\bkommt? (?:nicht|kaum) (?:mehr )?hinterher\b",
    # Work falls behind: "die Disponenten kommen mit der Arbeit nicht nach", "we cannot
    # keep up", "the team is falling behind".
    r"\bkomm(?:t|en) (?:mit (?:der |ihrer |unserer )?\w+ )?(?:nicht|kaum) (?:mehr )?nach\b",
    r"\b(?:cannot|can't|can not|unable to|struggl\w* to) keep up\b",
    r"\bfall(?:ing|s)? behind\b",
    # Slowness that reaches the users or the working day is reduced effectiveness.
    r"\b(?:users?|staff|colleagues|employees) (?:complain|wait|cannot)\w*",
    r"\b(?:benutzer\w*|anwender\w*|mitarbeite\w*|kolleg\w*|nutzer\w*) (?:beschweren|warten|klagen)\w*",
    r"\boverlaps? (?:with )?the (?:working|business|work) ?day\b",
    r"\b(?:in den|bis in den|mitten im|im) (?:arbeitstag|geschäftsbetrieb|tagesbetrieb|vormittag)\b",
    r"\b(?:into|during) (?:the )?(?:working|business|office) (?:day|hours)\b",
    # ...or into the hours the business is open: "bis in die Öffnungszeiten", "into opening hours".
    r"\b(?:in|into) (?:die |the )?(?:öffnungszeiten|geschäftszeiten|betriebszeiten|sprechzeiten|"
    r"kernarbeitszeit|arbeitszeit|opening hours)\b",
    # The work itself slows: "alles geht deutlich langsamer", "die Abläufe werden langsamer",
    # "everything takes much longer", "operations are slower".
    r"\b(?:alles|arbeit\w*|betrieb|abläufe|everything|work|operations)\b[^.\n]{0,30}"
    r"\b(?:langsamer|slower|dauert (?:viel |deutlich )?länger|takes? (?:much )?longer)\b",
    r"\bdauer[nt]\b[^.\n]{0,20}\b(?:arbeit\w*|alles|abläufe)\b[^.\n]{0,30}\blänger\b",
    # The business's own customers wait: "an den Kassen bilden sich lange Schlangen",
    # "Patienten müssen warten", "customers have to wait", "long lines at the counters".
    r"\blange (?:schlangen|wartezeiten)\b",
    # Slowness counted per unit of work: "3-4 Minuten pro Ticket", "wait 20-30 s per document".
    r"\b\d+\s*(?:(?:-|–|bis|to)\s*\d+\s*)?(?:s|sek\w*|sec\w*|min\w*)\s+(?:pro|per|for each|für jede\w*)\b",
    r"\blong (?:lines|queues|waiting times)\b",
    # Half the work done, a function given up to keep going: "makes maybe half of the normal
    # bookings", "we have had to switch off journaling", "mussten die Archivierung abschalten".
    r"\bhalf (?:of )?(?:the |our )?(?:normal|usual)\b",
    r"\b(?:nur|only) (?:noch )?(?:die |about |etwa )?(?:hälfte|half)\b",
    # Done, not asked: "Do I have to switch off the VM?", "Müssen wir den Scanner deaktivieren?"
    r"\b(?:had to|have had to)\s+(?:\w+\s+){0,2}(?:switch|turn)\s+off\b",
    r"\b(?:mussten|musste)\s+(?:\w+\s+){0,3}(?:abschalten|ausschalten|deaktivieren)\b",
    r"\b(?:kunden|besucher\w*|patient\w*|leser(?:innen)?|gäste|customers|visitors|patients|guests)\b"
    r"[^.\n]{0,50}\b(?:warten|wait|umbestellt|abgewiesen|weggeschickt|vertröstet|turned away|"
    r"rebooked|sent away)\w*",
)
# Business runs normally / only a part is affected.
NO_IMPACT = _rx(
    # Not a note on one component: "SEP sesam Server ... (physischer Server, nicht betroffen)".
    r"\bnot affected\b(?!\s*\))",
    r"\bunaffected\b(?!\s*\))",
    r"\bnicht (?:beeinträchtigt|betroffen)\b(?!\s*\))",
    r"\bno business impact\b",
    r"\bno impact\b",
    r"\bworks normally\b",
    r"\barbeitet normal\b",
    # "am PC selbst kann normal gearbeitet werden", "staff can work normally".
    r"\b(?:kann|können) (?:\w+ ){0,3}normal (?:gearbeitet|arbeiten|weiterarbeiten)\b",
    r"\bcan (?:\w+ ){0,2}work (?:as )?normal(?:ly)?\b",
    r"\bbusiness as usual\b",
    r"\bkein problem\b",
    r"\bbusiness is not\b",
)
# SPEC's Minor in its own words, said of the business (not of a job): "das Tagesgeschäft
# läuft ganz normal", "daily business runs normally", "business is working normal".
BUSINESS_NORMAL = _rx(
    r"\b(?:tagesgeschäft|geschäftsbetrieb|betrieb|geschäft|business|operations)\s+(?:\w+\s+){0,2}?"
    r"(?:läuft|laufen|geht|runs?|is running|are running|is working|are working|works|goes on)\s+"
    r"(?:\w+\s+)?(?:ganz\s+|völlig\s+|completely\s+|totally\s+)?(?:normal|normally|as usual)\b",
)
# The sender says it is not urgent: a claim about priority, not about the business. It
# tips a plain failure towards Minor but never outweighs a Major fact (claims are ignored).
NOT_URGENT = _rx(
    r"\bno hurry\b",
    r"\beilt (?:\w+ )?nicht\b",
    r"\bnicht (?:so )?dringend\b",
    r"\bnot (?:so |that )?urgent\b",
    r"\bnix dringend\w*",
)
PARTIAL = _rx(
    r"(?<!\bnot )\bone of (?:our |the )?\d+\b",  # not "not one of our 60 engineers can"
    r"\bein\w* (?:von|der) \d+\b",
    r"\bsporadi\w*",
    # Intermittent failing, not "a yard with the occasional new build".
    r"\boccasionally\b",
    r"\boccasional (?:failures?|errors?|aborts?|crash\w*|problems?|issues?|timeouts?|warnings?|"
    r"hiccups?|drop-?outs?)\b",
    r"\bgelegentlich\b",
    r"\b(?:zwei|drei|\d) von (?:sieben|\d+) nächten\b",
    r"\bonly (?:one|a single) (?:client|vm|server|machine|pc|job|volume|database|task|host)\b",
    r"\bnur (?:ein|eine|einer|einem) (?:client|vm|server|rechner|pc|job|volume|datenbank|"
    r"task|host)\b",
    r"\bother \d+ \w+ [^.\n]{0,40}\bwithout problems\b",
)
WORKAROUND = _rx(
    r"\bworkaround\b",
    # Run by hand it works: "if she starts the backup by hand over VPN it also works".
    r"\bby hand\b[^.\n]{0,40}\b(?:it |that )?(?:also |still )?works\b",
    r"\b(?:von hand|manuell)\b[^.\n]{0,40}\b(?:geht|klappt|funktioniert) (?:es |das )?(?:auch|aber)\b",
    r"\bwork-around\b",
    r"\bumgehungslösung\b",
    r"\bbenutzt so lange\b",
    r"\bnutzt (?:so lange|solange|vorerst)\b",
    r"\bin the meantime (?:we|she|he) use",
    r"\binstead (?:we|she|he) use",
    r"\bdas klappt\b",
    r"\b(?:we|i) can live with (?:it|that|this)\b",
    r"\bdamit (?:können|kann) (?:wir|ich) (?:\w+ )?leben\b",
    # Another way works and is used meanwhile: "über die Web-Oberfläche klappt es problemlos",
    # "per Kommandozeile funktioniert derselbe Restore einwandfrei", "das machen wir jetzt so",
    # "via the web UI the same restore works fine", "for now we use the command line".
    r"\b(?:über|via|mit|per) (?:die |das |den |der |dem )?[\w-]+ (?:klappt|funktioniert|geht)\b"
    r"[^.\n]{0,40}\b(?:problemlos|einwandfrei|ohne probleme|ohne fehler)\b",
    r"\b(?:via|through|using|with) the [\w-]+ (?:[\w-]+ )?(?:it |the same \w+ )?works? "
    r"(?:fine|without problems|perfectly|without errors)\b",
    r"\b(?:das|so) machen wir (?:es )?(?:jetzt|vorerst|erstmal|erst mal|bis auf weiteres|solange|so lange)\b",
    r"\bfor now (?:we|i) (?:use|do|run|restore)\b",
    # "our colleagues simply use that for now", "wir nehmen vorerst die alte Konsole".
    # Not "we use sesam 5.0 for now": the thing used is the other way, named as such.
    r"\b(?:use|uses|using)\s+(?:that|this|it|the other \w+|the \w+ (?:gui|ui|client|console))\s+"
    r"(?:\w+\s+)?(?:for now|in the meantime|meanwhile)\b",
    r"\b(?:nutzen|nutzt|verwenden|verwendet|nehmen)\s+(?:wir |sie |die kollegen )?(?:vorerst|"
    r"erstmal|erst mal|bis auf weiteres|derweil|inzwischen)\b",
    r"\b(?:we|i) (?:now )?do (?:it|that|this) that way\b",
    # "Bisher habe ich mir damit geholfen, dass ...", "er nutzt bis dahin die Weboberfläche",
    # "until then she uses the web UI".
    r"\b(?:habe|haben|hat) (?:ich |wir |er |sie )?(?:mir |uns |sich )?(?:damit|so) (?:(?!nicht\b|kaum\b|nichts\b|wenig\b)\w+ )?geholfen\b",
    r"\b(?:nutzt|nutzen|verwendet|verwenden|nimmt|nehmen) (?:\w+ )?(?:bis dahin|solange|einstweilen)\b",
    r"\b(?:until then|meanwhile) (?:we|she|he|they|i) (?:use|uses|work with)\b",
)
# This and NEGATION_AFTER: read in the 40 characters either side of a match only.
# What the writer fears, not what happened: "ich will nicht, dass uns am Ende die Daten
# fehlen", "I'm worried that we lose data" (the words before a match).
_FEARED = (
    r"\b(?:will|wollen|möchte|möchten) nicht,? dass\s+(?:[\w-]+\s+){0,6}$",
    r"\b(?:angst|sorge|befürchte|befürchten|fürchte|fürchten),? dass\s+(?:[\w-]+\s+){0,6}$",
    r"\b(?:afraid|worried|fear|scared)(?: that)?\s+(?:[\w'-]+\s+){0,6}$",
)
FEARED = _rx(*_FEARED, alone=True)
_NEGATED = (
    r"\b(?:kein\w*|no|without|ohne|nicht|not|cannot|never)\W+(?:\w+\W+){0,2}$",
    # What must not happen, in a clause of its own: "umbenennen, ohne dass die alten
    # Sicherungen verloren gehen".
    r"\bohne dass\s+(?:[\w-]+\s+){0,4}$",
    *_FEARED,
)
NEGATION_BEFORE = _rx(*_NEGATED, alone=True)
# The business going on, negated or only wanted: "Ab Sonntag sollte die Ostersaison-Produktion
# laufen", "the shop should be running by now".
NOT_GOING_ON_BEFORE = _rx(
    *_NEGATED,
    r"\b(?:soll|sollte|sollten|müsste|müssten|würde|würden|should|would)\s+(?:[\w-]+\s+){0,3}[\w-]*$",
    alone=True,
)
# Within the same clause only: in "alle Sicherungen schlagen fehl, ein anderes Ziel gibt es
# nicht" the negation belongs to the target, not to the failure before the comma.
NEGATION_AFTER = _rx(
    r"^[^\w,;]*(?:\w+[^\w,;]+){0,3}(?:gibt es (?:\w+ ){0,3}?(?:nicht|keine[nr]?)\b|haben wir (?:nicht|keine[nr]?)\b|"
    r"does not exist|doesn't exist|not possible|nicht möglich)",
    # A form's row: "Error message: none", "Fehlermeldung | keine", "Workaround keiner".
    r"^\s*(?:message|meldung)?\s*[|:]?\s*(?:none|keine[rns]?|kein|nein|no|n/a)\s*(?:$|[.;,|])",
    alone=True,
)
SINGLE_USER = _rx(
    r"\bbei (?:einer|einem) (?:kollegin|kollegen|benutzer\w*|anwender\w*)\b",
    r"\b(?:a single|one) (?:user|colleague|workstation)\b",
    r"\bnur ein(?:e|em)? (?:benutzer|"
    r"kollegin|kollege|anwender)\w*",
    # The writer alone: "betroffen bin (auch) nur ich", "nur ich bin betroffen",
    # "only I am affected", "it only affects me", "I am the only one affected".
    r"\bbetroffen (?:bin|ist) (?:\w+ )?nur (?:ich|mein\w*)\b",
    r"\bnur (?:ich|mein \w+) (?:bin|ist) betroffen\b",
    r"\b(?:es|das) betrifft nur mich\b",
    r"\bonly (?:i am|i'm|me|my \w+ is) affected\b",
    r"\b(?:affects|affecting) only (?:me|my)\b",
    r"\bonly affects me\b",
    r"\bi am the only one\b",
    # "Auf allen anderen Rechnern geht die GUI", "on every other PC it works".
    r"\b(?:auf|an) allen anderen (?:rechnern|pcs?|clients|notebooks|arbeitsplätzen|geräten)\b"
    r"(?:(?!\bnicht\b)[^.\n]){0,30}\b(?:geht|läuft|funktioniert|klappt)\b(?![^.\n,;]{0,30}\bnicht\b)",
    r"\bon (?:all|every) other (?:machines?|pcs?|clients?|laptops?|notebooks?|workstations?)\b"
    r"(?:(?!\bnot\b|n't\b)[^.\n]){0,30}\b(?:works?|runs?|is fine)\b(?![^.\n,;]{0,30}\b(?:n?either|not)\b)",
)
# Asking for documentation is a question on use (and names no operation by itself):
# "Is there a reference of the REST endpoints?", "is there any up-to-date guide for ...",
# "Gibt es eine aktuelle Schritt-für-Schritt-Anleitung?", "Gibt es dazu eine Dokumentation?"
DOC_REQUEST_EN = (
    r"\bis there (?:a|an|any) (?:[\w-]+ ){0,2}(?:reference|documentation|manual|guide|how-?to|"
    r"description|white ?paper|best practice|knowledge ?base)"
)
DOC_REQUEST_DE = (
    r"\bgibt es (?:\w+ ){0,2}?(?:eine?n?|irgendwo eine?n?) (?:[\w-]+ ){0,2}?[\w-]*(?:anleitung|"
    r"dokumentation|beschreibung|referenz|handbuch|übersicht|leitfaden)\b"
)
# The request is a question about use, installation or configuration.
HOW_TO = _rx(
    r"\bhow (?:do|can|should|to|does)\b",
    r"\bis there (?:a|any) (?:way|guide|step)",
    DOC_REQUEST_EN,
    DOC_REQUEST_DE,
    r"\bwie (?:kann|können|muss|müssen|richte|geht|kommen|stelle)\b",
    r"\bwo (?:genau )?(?:wird|kann|muss|finde|richte|stelle)\b",
    r"\bwelche\w* \w+ (?:muss|soll)\b",
    r"\b(?:kann|können) (?:sep )?sesam\b",
    r"\bis (?:it|this|that) possible\b",
    r"\bist (?:es|das) möglich\b",
    r"\bgeht das\b",
    r"\bwhere (?:do|can|is)\b",
    r"\bwhat is the (?:best|right|recommended)\b",
    r"\bcan (?:sep )?sesam\b",
    # A setting asked for: "kann man diese Office-Sperrdateien irgendwie ausschließen?".
    r"\bkann man (?:[\w-]+ ){0,4}?(?:ausschließen|einstellen|abstellen|umstellen|konfigurieren)\b",
)
# "How do I ..." in German with any verb: "wie lege ich ... an?", "Wie stell ich ... um?",
# "wie richten wir ... ein?" (not "wie oft", "wie lange", "wie gesagt"). It names what the
# writer is trying to do (the action); the severity's question on use reads HOW_TO.
HOW_DO_I = _rx(
    r"\bwie (?!(?:oft|lange|viele?|sehr|gesagt|schon|immer|gewohnt|üblich|besprochen|erwähnt|"
    r"gewünscht|vereinbart|folgt|bisher|damals|jetzt|heute|gestern)\b)[a-zäöü]\w+ (?:ich|man|wir)\b",
)
# The sender calls the request a question (a request type, not just a question mark).
CLASSIFICATION_QUESTION = _rx(
    r"\b(?:frage|fragen|question|questions|konfigurationsfrage|installationsfrage)\b",
    *REQUEST_TYPE_QUESTIONS,
)
# Capability questions ("Can sesam ...?", "Ist es möglich ...?") ask about the product,
# not about an operation the sender is doing: they do not name an action.
CAPABILITY = _rx(
    r"\b(?:kann|können|can|does|do(?:es)? (?:sep )?sesam) (?:sep )?sesam\b",
    r"\bis (?:it|this|that) possible\b",
    r"\bist (?:es|das) möglich\b",
    r"\bgeht das\b",
    r"\bis there (?:a|any) (?:way|guide|step)",
    DOC_REQUEST_EN,
    DOC_REQUEST_DE,
)
# Closing lines: what follows is signature, not the writer's own words (for the language).
# This and LOG_TEXT_LINE are plain patterns, not prefiltered: only the language reads
# them, on a text nothing else scans, and the literal scan cost more than they do.
CLOSING = re.compile(
    r"^[^\S\n]*(?:mit freundlichen grüßen|freundliche grüße|viele grüße|beste grüße|liebe grüße|"
    r"schöne grüße|herzliche grüße|gruß|grüße|mfg|best regards|kind regards|regards|"
    r"best wishes|cheers|sincerely|yours sincerely|--)[^\S\n]*[,!.]?\s*$",
    re.IGNORECASE | re.MULTILINE,
)
# Phrases that use a class or type word without classifying this request; removed first.
NOT_A_CLAIM = _rx(
    r"\b(?:business|mission|time|safety|security)[- ]critical\b",
    r"\b(?:major|minor) (?:release|update|upgrade|version|change)s?\b",
    r"\bemergency[- ]call\b",
    r"\b(?:bei|für) (?:weiteren |eventuellen |etwaigen )?(?:rück)?fragen\b",
    r"\b(?:if|should) you have (?:any )?(?:further |more |other )?questions\b",
    r"\bfor (?:any )?(?:further |more )?questions\b",
    r"\b(?:anything|nothing|something) (?:major|minor|critical)\b",  # "stopped doing anything major"
    # Idioms: "kommt natürlich nicht in Frage", "steht außer Frage", "out of the question".
    r"\b(?:in|außer) frage\b",
    r"\bout of the question\b",
)
# A claim denied is no claim: "this is not critical", "Nicht kritisch, nur zur Info.", "kein
# Notfall", "not an emergency", "Kein kritischer Fehler". (Still a classification: the
# writer has placed the request, as with a claim.)
NEGATED_CLAIM = _rx(
    r"\b(?:not|nicht|kein\w*|no|never|nie|isn't|is not)\s+(?:(?:so|that|too|very|really|sehr|"
    r"besonders|wirklich|an?|ein\w*|der|die|das)\s+){0,2}(?:critical|kritisch\w*|emergency|"
    r"notfall\w*|major|sehr dringend)\b",
)
# Lines of pasted program output: English words in them say nothing about the writer.
LOG_TEXT_LINE = re.compile(
    r"^(?:[ \t]{2,}\S.*|.*\b(?:STATUS=ERROR|Error:|E:|W:)\s.*)$", re.MULTILINE
)
# "On Mon, 2 Nov 2026 at 10:00, Support <" wrapped onto a second line "... wrote:".
WROTE_LINE = re.compile(r"\b(?:wrote|schrieb|a écrit)\s*:\s*$", re.IGNORECASE)
WROTE_OPENER = re.compile(r"^\s*(?:on|am|le)\s", re.IGNORECASE)
# A quote's heading, its verb and a colon at the end ("Am 03.11.26 um 10:05 schrieb SEP
# Support:", "Anna wrote:", "SEP Support schrieb am 03.11.2026 10:05:"), and Gmail's German
# one wrapped behind the verb ("Am Di., 3. Nov. 2026 um 10:05 Uhr schrieb SEP Support <",
# then "support@sep.example>:" alone).
WROTE_HEADING = re.compile(r"\b(?:wrote|schrieb|a écrit)\b[^\n]{0,160}:\s*$", re.IGNORECASE)
WROTE_WRAPPED = re.compile(
    r"^\s*(?:on|am|le)\s[^\n]{0,200}\b(?:wrote|schrieb|a écrit)\b[^\n:]*$", re.IGNORECASE
)
# The sender asks whether something harmless matters ("can we ignore it?", "the job is green").
HARMLESS = _rx(
    r"\b(?:can|may|should) we (?:safely )?ignore\b",
    r"\bignorieren\b",
    r"\bmüssen wir (?:da |hier )?(?:etwas|was) tun\b",
    r"\bdo we (?:need|have) to do anything\b",
    r"\bsomething we (?:have|need) to take care of\b",
    r"\b(?:sicherung|backup|job)\w* (?:selbst |itself )?(?:ist|sind|is|are) (?:trotzdem |still )?"
    r"(?:grün|green|erfolgreich|successful)\b",
)
