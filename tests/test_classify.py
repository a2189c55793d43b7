"""Understanding a request: severity, missing information, language, versions, own text.

Short German and English texts of our own; the last test runs the pure evaluation of
bench/understanding.py over the sample corpus and holds it to the targets.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sepdesk.pipeline import rules
from sepdesk.pipeline.classify import (
    _QUOTED,
    _SENTENCE_END,
    FIELDS,
    READ_LIMIT,
    _Facts,
    _line_rule,
    bounded,
    has_action,
    has_error_text,
    has_hardware,
    judge_severity,
    language,
    missing_info,
    older_versions,
    operating_systems,
    own_text,
    rules_severity,
    sesam_versions,
    stated_severity,
    ties_to_sesam,
    understand,
    without_signature,
)
from sepdesk.pipeline.parse import Attachment, html_to_text

ROOT = Path(__file__).resolve().parents[1]
from tests.conftest import SAMPLES, assert_understanding_targets, bench_understanding  # noqa: E402


def _sev(text: str, subject: str = "") -> int:
    return understand(subject, text).severity


# ----------------------------------------------------------------------------- severity


def test_shouted_critical_how_to_question_is_cosmetic() -> None:
    u = understand("URGENT CRITICAL!!!", "CRITICAL!!! How do I add a second admin to the GUI?")
    assert (u.severity, u.stated_severity) == (4, 1)


def test_calm_halted_production_with_failing_restores_is_critical() -> None:
    text = (
        "Guten Tag,\nunser Mailserver ist defekt, die Produktion steht seit heute früh.\n"
        "Der Restore der Datenbank bricht nach 10 Minuten ab.\n"
        "Auch die älteren Sicherungen der Vorwoche brechen genauso ab.\n"
        "Priorität: niedrig"
    )
    u = understand("Rücksicherung", text)
    assert u.severity == 1 and u.stated_severity == 3
    assert any("halted" in r for r in u.severity_reasons)


def test_critical_in_english_with_no_other_copy() -> None:
    text = (
        "Our order system crashed and the whole plant is at a standstill. The restore of "
        "the database fails every time and we have no other copy."
    )
    assert _sev(text) == 1


def test_restore_failure_in_a_trial_is_not_critical() -> None:
    text = (
        "In our trial installation the restore fails, older backups fail the same way. "
        "Production is down? No, production is not affected."
    )
    assert _sev(text) == 3


def test_older_backup_worked_makes_it_major_not_critical() -> None:
    text = (
        "The restore of last night's backup fails. Production was down, but the previous "
        "day's backup restored fine and this one worked, people can work again. "
        "We need the data of yesterday."
    )
    assert _sev(text) == 2


@pytest.mark.parametrize(
    "text",
    [
        # No "Produktion steht": the business cannot work without the lost data, and
        # nothing else is there to work with (SPEC's Critical in other words).
        "Die Rücksicherung des Auftragsservers scheitert jedes Mal mit einem Lesefehler. "
        "Auch die älteren Vollsicherungen brechen genauso ab. Ohne die Auftragsdatenbank "
        "kann im Lager niemand kommissionieren. Eine Alternative haben wir nicht.",
        "Restoring our ERP database fails every time with a checksum error, and the older "
        "backups from last week fail the same way. Without the database no orders can be "
        "picked, and there is no manual fallback.",
        "Der Restore der Patientendatenbank bricht ab, ältere Sicherungen ebenso, eine andere "
        "Kopie existiert nicht. Ohne das System können keine Patienten aufgenommen werden, "
        "einen Notbetrieb auf Papier gibt es bei uns nicht.",
        # SPEC's Critical said in the words of people who do not write "production halted":
        # a standstill as "X steht", staff who cannot work, a business that cannot open,
        # the other backups tried with "the same" result, no way on that they see.
        "Die Wiederherstellung des Planungsservers bricht nach 10 % ab. Mit der Sicherung "
        "von gestern und der vom Wochenende kommt dasselbe. Die Stanzerei steht.",
        "Der Restore der Praxissoftware geht nicht, auch die Sicherungen der letzten Tage "
        "enden mit demselben Fehler. Ohne den Server kann keine der Helferinnen arbeiten.",
        "The restore of our booking server stops halfway. We tried the backups from Monday "
        "and from the week before: same message. We cannot open the hotel desk system, so "
        "the receptionists are idle.",
        "Restore of the POS database fails. The copies from the previous nights end with the "
        "identical error. Without it we cannot sell anything and there is nothing else we "
        "could use.",
        "Beim Zurückspielen der Datenbank bricht sesam ab, die Sicherungen der Vorwochen "
        "ebenso. Ohne die Daten können wir keine Rezepte abrechnen. Eine Möglichkeit, ohne "
        "das System weiterzuarbeiten, sehen wir nicht.",
        # Nothing works / nobody can do the work / no X can be done, and the way by hand
        # ruled out; two backups that "both" fail.
        "Die Rücksicherung des Kassenservers klappt leider nicht, die Sicherungen von Montag "
        "und Dienstag brechen beide ab. In den Märkten geht seitdem gar nichts, mit Zettel "
        "und Stift schaffen wir das nicht.",
        "The restore of the dispatch database fails; yesterday's and last week's backup both "
        "stop at 40 %. No parcel can be scanned and a paper process for our volume is not "
        "possible.",
        "Restore of our reservations DB fails, the older backups give the same error. All "
        "check-in counters at the terminal are dead and there is nothing we can do by hand.",
        # A standstill said verb first, anyone standing around, "weder ... noch", a copy
        # that "hamma nicht", several backups "bei allen dasselbe".
        "Seit dem Morgen steht bei uns die Spedition. Die Rücksicherung des Servers bricht "
        "ab, mit der Sicherung von gestern ist es genau das Gleiche, eine zweite Kopie "
        "hätten wir nicht.",
        "Restore vom Kassenserver schlägt fehl. Montag, Sonntag und Samstag probiert, bei "
        "allen dasselbe, eine Kopie woanders hamma nicht. Die Verkäufer stehen herum, wir "
        "können weder kassieren noch Ware ausgeben.",
        "The restore of the scheduling database fails; the backups of the last two nights "
        "give the same error and there is no other copy. The mill cannot cut or ship any "
        "orders and the night crew was sent home.",
        # Nothing left to restore from, and nothing said to go on: Critical without any
        # standstill phrase (people describe a standstill in more words than a list holds).
        "Die Wiederherstellung der Datenbank bricht ab, mit dem Stand von Montag und von "
        "Sonntag beide Male dieselbe Meldung. Eine andere Kopie gibt es nicht. Bitte rufen "
        "Sie sofort an.",
        "Restoring the ticketing server fails; the older ones he tried give the same error. "
        "There is no other copy. We had to close the office for visitors today.",
        # Nothing any more, no vehicle goes, everything cancelled; "ohne die"; a table row.
        "Beim Zurückholen der Datenbank aus der Sicherung bricht sesam ab, mit dem Stand "
        "von gestern genauso. Seit sechs Uhr können wir nichts mehr ausliefern.",
        "Der Restore des Leitsystems bricht ab, die Sicherungen der Vortage genauso. Ohne "
        "Leitsystem bekommt kein Fahrer eine Tour, kein Lastwagen fährt.",
        "Rücksicherung scheitert, ältere Sicherungen genauso.\nAusweichmöglichkeit: keine\n"
        "Ohne die Datenbank darf kein Zug abfahren.",
        # "gelingt nicht", "lässt sich nicht wiederherstellen"; a copy someone else "hat nicht".
        "Der Kassenserver lässt sich nicht wiederherstellen, die Rücksicherung gelingt nicht, "
        "mit den älteren Ständen ebenso wenig. Eine weitere Kopie hat der Dienstleister "
        "nicht. Wir können heute keine einzige Karte verkaufen.",
        # The company itself cannot work ("können wir", "we cannot ... a single"), a tape or
        # a cartridge tried "genauso", "same with the backups", "eine dritte gibt es nicht".
        "Ohne die Warenwirtschaft können wir heute keine Ware annehmen. Der Restore bricht "
        "ab, mit dem Band von gestern genauso.",
        "Restoring the dispatch VM fails. Same with the backups of the last three nights. "
        "We cannot load or release a single truck.",
        "Die Rücksicherung der Rezepturdatenbank bricht ab, mit der Kassette vom Vortag "
        "genauso; eine dritte gibt es nicht. Eine Produktion ohne das System ist nicht "
        "zulässig.",
        # "immer gleich", "auch bei allen älteren Ständen", "incl. last week's", "no second
        # copy", "kein Ersatzsystem", "no truck in or out", "dürfen wir nichts ausgeben".
        "Die Rücksicherung der Lagerdatenbank bricht ab, mit den Sicherungen der letzten "
        "Nächte immer gleich. Ein Ersatzsystem gibt es nicht.",
        "Die Informatik sagt, die Rücksicherung breche jedes Mal ab, auch bei allen älteren "
        "Ständen. Wir dürfen seither nichts ausliefern.",
        "Yard DB lost, every restore attempt incl. last week's fails. There is no second copy. "
        "No truck in or out since 02:00.",
    ],
)
def test_critical_in_other_words(text: str) -> None:
    assert _sev(text) == 1


@pytest.mark.parametrize(
    ("text", "level"),
    [
        # "Labor" and "lab" are a test system only as the writer's own or test lab: a
        # hospital's laboratory is its business.
        (
            "Der Restore des Laborsystems scheitert, die älteren Sicherungen genauso. Das "
            "Labor kann keine Befunde mehr liefern, einen Ausweg sehen wir nicht.",
            1,
        ),
        ("In unserem Testlabor schlägt die Rücksicherung einer VM fehl.", 3),
        # A written-down "steht" and a hanging job are no standstill.
        (
            "Der Restore schlägt fehl, ältere Sicherungen genauso, wie im Log steht. Bitte prüfen.",
            2,
        ),
        (
            "Der Restore bricht ab, die Sicherungen vom Vortag ebenso, und der Sicherungsjob "
            "steht seit 6 Uhr.",
            2,
        ),
        # "we use X for now" is no workaround; "we use that for now" after another way is.
        (
            "The Web UI shows an error when sorting jobs. The Java GUI sorts fine and the "
            "operators use that for now.",
            4,
        ),
        ("The Web UI shows an error when sorting jobs; we use sesam 5.0 for now.", 3),
        # Work that stays normal is no business impact, whatever the subject shouts.
        (
            "Totalausfall! Ein PC am Empfang wird nicht mehr gesichert, an ihm kann aber "
            "normal gearbeitet werden.",
            3,
        ),
        # Work falls behind, or another way is missing: a performance problem is Major.
        (
            "Rücksicherungen dauern seit dem Update extrem langsam, die Sachbearbeiter kommen "
            "mit der Arbeit nicht nach.",
            2,
        ),
        ("Restores are very slow since the update; customers are turned away at the counter.", 2),
        # Work at half its pace is reduced effectiveness; all backups erroring is Major.
        (
            "Since the upgrade the backup of the order database runs into the day and the "
            "warehouse scanners work at half speed.",
            2,
        ),
        ("Seit Montag laufen alle Sicherungen des Standorts auf Fehler.", 2),
        # "steht" as "is shown" is no standstill, even with a "seit".
        (
            "In der Oberfläche von sesam steht seit ein paar Tagen jedes Mal: 'Lizenz läuft "
            "in 30 Tagen ab'. Müssen wir etwas tun?",
            4,
        ),
        # An alarm word is a claim: the facts decide ("Totalausfall" of one laptop's GUI is
        # a problem of one user, SPEC's Cosmetic, as heldout6's 019 is labelled; it was 3
        # while "Totalausfall" itself counted as a failure).
        (
            "Totalausfall! Die sesam GUI zeigt auf dem Laptop unseres Praktikanten keine Jobs an.",
            4,
        ),
        # Not yet in production: no production restore fails.
        (
            "Auf dem neuen Server (noch nicht in Betrieb) schlägt jeder Restore fehl, die "
            "älteren Sicherungen genauso. Eine andere Kopie gibt es nicht.",
            3,
        ),
        # "failure notifications" name a notice, not a failure: a configuration question.
        ("Question: can failure notifications be sent to a different address per tenant?", 4),
        # Slow with work moved to paper and no other way: Major, no failure word needed.
        (
            "The restore runs, but slow: the planners do half of the planning on paper and "
            "we cannot take another way.",
            2,
        ),
        # The same facts, but the business goes on or the data is old: Major.
        (
            "Restoring the ticketing server fails; the older backups give the same error. "
            "There is no other copy, but the box office keeps selling on the second system.",
            2,
        ),
        (
            "Die Rücksicherung des Archivs mit den Plänen von 2023 bricht ab, die älteren "
            "Sicherungen genauso. Eine andere Kopie gibt es nicht.",
            2,
        ),
        # "keeps failing" or "continues to abort" is no business going on.
        (
            "The restore of the order database keeps failing and continues to abort at 40 %; "
            "the older backups give the same error and there is no other copy.",
            1,
        ),
        # Data gone for good is Major though the rest runs ("important data no longer
        # available"); a test system's "unaffected" live one is Minor.
        (
            "The restore of the 2022 survey data stops at 10 %, and there is no other copy; "
            "current projects are unaffected, but the re-run by hand is slow.",
            2,
        ),
        (
            "Only the test environment fails to restore; the live booking system is unaffected.",
            3,
        ),
        # Slowness counted per unit of work, and skipping the backup ruled out.
        (
            "Seit dem Update ist die Sicherung viel zu langsam, die Kassen brauchen 3-4 "
            "Minuten pro Bon. Die Sicherung auslassen dürfen wir nicht.",
            2,
        ),
        # Slowness in any words with its impact is Major; a notice about a backup that is
        # missing is no failing backup.
        (
            "Der Restore läuft mit 3 bis 4 MB/s, solange planen wir die Schichten mit Zetteln.",
            2,
        ),
        (
            "Das Portal ist quälend langsam, Kunden brechen die Buchung ab und warten an den "
            "Schaltern; eine Alternative haben wir leider nicht.",
            2,
        ),
        ("Seit Montag bekommen wir keine Sicherungsmail mehr, die Jobs laufen aber.", 3),
        # Nothing left to restore from, but the work goes on, by hand or slowly: Major.
        (
            "Die Rücksicherung der Datenbank schlägt fehl, die Sicherungen der Vorwoche "
            "genauso, eine andere Kopie existiert nicht. Die Werkstatt läuft weiter, aber "
            "nur mit Papier.",
            2,
        ),
        (
            "Restoring the planning database fails, older backups give the same error and "
            "there is no other copy. The line is still running with manual input at 40 %.",
            2,
        ),
        # A restore job that goes on is no business going on.
        (
            "Die Rücksicherung bricht ab, die älteren Sicherungen genauso, eine andere Kopie "
            "gibt es nicht; der Restore-Job läuft weiter ins Leere. Niemand kann arbeiten.",
            1,
        ),
        # "we cannot find any error" is no company unable to work.
        (
            "The restore of the file server fails, the older backups the same. We cannot "
            "find any error in the client log.",
            2,
        ),
        # A past outage with everything running again is no standstill now.
        (
            "Vorige Woche hatten wir einen Totalausfall des Servers; seither läuft wieder alles, "
            "nur die Sicherungsberichte kommen nicht mehr per Mail.",
            3,
        ),
    ],
)
def test_other_words_stay_at_their_level(text: str, level: int) -> None:
    # The rules' own words: the learned model may still raise one of these to Critical
    # (the job halted "seit 6 Uhr" with failing restores reads Critical to it).
    assert rules_severity("", text)[0] == level


@pytest.mark.parametrize(
    "text",
    [
        # The same failing restores, but a workaround, or no word that nothing else exists.
        "Restoring our ERP database fails every time, and the older backups fail the same "
        "way. Without the database no orders can be picked; as a workaround we use the "
        "printed lists, there is no other alternative.",
        "Der Restore der Kundendatenbank schlägt fehl, die älteren Sicherungen genauso. "
        "Ohne die Daten kann der Vertrieb keine Angebote erstellen.",
    ],
)
def test_failing_restores_with_a_way_to_work_are_not_critical(text: str) -> None:
    assert _sev(text) != 1


@pytest.mark.parametrize(
    "text",
    [
        "Seit Montag brechen alle Sicherungen ab. Ein zweites Sicherungsziel gibt es nicht.",
        "All nightly backups fail since the update, we have no other backup.",
        "Restores from tape are extremely slow, 30 engineers cannot work without the data.",
        # German performance: slowness that reaches the work, the opening hours, the
        # business's own customers, or where the way out is ruled out.
        "Die Sicherung der Praxissoftware ist sehr langsam, seitdem dauert das Arbeiten am "
        "Empfang viel länger.",
        "Der Fileserver-Restore ist extrem langsam, alles geht deutlich langsamer im Büro.",
        "Die Vollsicherung ist viel zu langsam und läuft bis in die Sprechzeiten hinein.",
        "Seit dem Update ist die Sicherung so langsam, dass die Kunden an der Kasse warten.",
        "Die Sicherung ist viel zu langsam. Sie nur am Wochenende zu machen wäre keine Lösung.",
        "The nightly backup is so slow that it runs into opening hours.",
    ],
)
def test_major(text: str) -> None:
    assert _sev(text) == 2


@pytest.mark.parametrize(
    "text",
    [
        "Die Sicherung eines Clients von 40 schlägt fehl, der Betrieb ist nicht beeinträchtigt.",
        "One of our 20 VMs fails every night with a snapshot error. The rest is fine.",
        "The NDMP job aborts sporadically, about once a week.",
        "Alle Sicherungen laufen, nur die Mail-Benachrichtigung fehlt. Es eilt nicht.",
    ],
)
def test_minor(text: str) -> None:
    assert _sev(text) == 3


@pytest.mark.parametrize(
    "text",
    [
        "Frage: Wie kann ich die Aufbewahrungszeit eines Medienpools ändern?",
        "Quick question: how do I exclude a folder from a task?",
        "Bei einer Kollegin stürzt die GUI ab. Sie benutzt so lange die Web-Oberfläche.",
        # A request for documentation is a question, whatever words of failure stand near it.
        "Documentation question: is there a current reference of the command line options? "
        "We want to trigger tasks from our own scheduler instead of the sesam calendar.",
        "Frage: Nach dem Ausfall im Sommer wollen wir das Verfahren üben. Gibt es eine "
        "deutsche Beschreibung für die Wiederherstellung eines Linux-Servers?",
        # Another way works and is used; or the writer alone is affected.
        "Die GUI friert beim Öffnen des Medienpools ein und reagiert nicht mehr. Per "
        "Web-Oberfläche funktioniert es einwandfrei.",
        "Die Sicherungsübersicht lädt nicht mehr. Betroffen ist nur mein Arbeitsplatz.",
        "The job monitor no longer refreshes. Via the web UI it works fine.",
        "The GUI no longer shows the calendar; it only affects me.",
    ],
)
def test_cosmetic(text: str) -> None:
    assert _sev(text) == 4


def test_quoted_critical_history_does_not_raise_severity() -> None:
    text = (
        "Danke, wie kann ich das Passwort ändern?\n\n"
        "-----Original Message-----\nFrom: x\n"
        "Production is down, the restore fails and no other copy exists."
    )
    assert _sev(text) == 4


# ----------------------------------------------------------------------------- own text


# GMX's and web.de's reply: the header block opens with "Gesendet:", "Von:" after it.
GMX_HISTORY = (
    'Gesendet: Montag, 23. November 2026 um 17:02 Uhr\nVon: "Thomas Weiß" <t.weiss@x.de>\n'
    'An: "Petra Lang" <p.lang@x.de>\nBetreff: Restore\n\n'
    "Die Produktion steht komplett, der Restore bricht ab, ältere Sicherungen auch, kein Workaround."
)


def test_a_header_block_that_opens_with_its_date_is_history() -> None:
    own = "Hallo,\nwie kann ich die Aufbewahrungszeit des Pools WEEKLY ändern?\nGruß Petra\n\n"
    assert _sev(own + GMX_HISTORY, "AW: Restore") == 4
    assert own_text(own + GMX_HISTORY).endswith("Gruß Petra")
    # Forwarded, it is the customer's report as Outlook's is.
    assert "Produktion steht" in own_text(own + GMX_HISTORY, keep_outlook_blocks=True)
    # A form's date above its sender is no history: only the mailers' "Gesendet"/"Sent".
    form = "Datum: 23.11.2026\nVon: Petra Lang, Buchhaltung\nDer Restore bricht ab."
    assert own_text(form) == form


def test_a_quoted_message_in_html_is_history() -> None:
    html = (
        "<div>Wie kann ich die Aufbewahrungszeit des Pools WEEKLY ändern?</div>"
        '<div class="gmail_quote"><blockquote class="gmail_quote">'
        "<div>Die Produktion steht komplett, der Restore bricht ab, ältere Sicherungen auch,"
        " kein Workaround.</div></blockquote></div>"
    )
    text = html_to_text(html)
    assert "> Die Produktion steht" in text
    assert _sev(text, "Re: Aufbewahrung") == 4
    thunderbird = html.replace('class="gmail_quote"', 'type="cite"')
    assert "> Die Produktion steht" in html_to_text(thunderbird)
    # Gmail's indent is a bare blockquote: the writer's own words.
    assert "> " not in html_to_text("<div>Hi</div><blockquote>Mein Text</blockquote>")


def test_own_text_strips_reply_history() -> None:
    text = (
        "Neue Info.\n\nAm 3. Nov. 2026 um 10:00 schrieb Support <s@x.example>:\n> alt\n"
        "> noch älter\n"
    )
    assert own_text(text) == "Neue Info."
    assert own_text("Hi\n> quoted\nmore") == "Hi\nmore"
    outlook = "Thanks\n\nFrom: Desk <d@x>\nSent: Monday\nTo: me\nSubject: RE: x\n\nold text"
    assert own_text(outlook) == "Thanks"


@pytest.mark.parametrize(
    "attribution",
    ["SEP Support wrote on 30.11.2026 09:00:", "Support schrieb am Mo., 30. Nov. 2026, 09:00:"],
)
def test_own_text_drops_an_attribution_and_a_separator_above_history(attribution: str) -> None:
    """Black-box review: a reply below a quote whose attribution names the date after the
    sender, and signed above Outlook's separator and header block, was relayed with the
    attribution line and the separator. The quote's log is history, not a pasted one."""
    text = (
        f"{attribution}\n> New ticket: T-2026-000012\n> sm_main: Error: Drive [2] failed\n\n"
        "Which ONTAP version do you run?\n\nBob\n\n________________________________\n"
        "From: SEP Support <support@sep.example>\nSent: Monday, November 30, 2026 9:00 AM\n"
        "To: team@sep.example\n\nWhy: INTERNAL"
    )
    assert own_text(text) == "Which ONTAP version do you run?\n\nBob"
    assert own_text("Thanks.\n\n----------\n-----Original Message-----\nold") == "Thanks."
    # A colon line with a date that introduces no quote is the writer's own.
    assert own_text("The job wrote on 30.11.2026 09:00:\nnothing else") == (
        "The job wrote on 30.11.2026 09:00:\nnothing else"
    )


def test_own_text_keeps_a_log_the_writer_pasted_with_quote_marks() -> None:
    log = "> sm_migrate: Error: Drive [2] reports: Cleaning required\n> STATUS=ERROR MSG=failed"
    pasted = f"The tape copy gives up. From last night's log:\n\n{log}\n\nsesam 5.1.0.4"
    assert "Cleaning required" in own_text(pasted) and "sesam 5.1.0.4" in own_text(pasted)
    assert "error_message" not in _missing("x", pasted)
    # Quote marks without an introducing colon, or no error in them: history as before.
    assert "Cleaning" not in own_text(f"The tape copy gives up.\n{log}\nsesam 5.1")
    assert "hello" not in own_text("See the log:\n> hello there\nok")
    assert "Cleaning" not in own_text(f"Neue Info.\n\nAm 3. Nov. schrieb Support:\n{log}")


def test_own_text_keeps_forwarded_reports() -> None:
    text = "Siehe unten.\n\n---------- Forwarded message ---------\nFrom: a\n\nServer down"
    assert "Server down" in own_text(text)
    announced = "The original message from the branch is below.\n\nFrom: b\nSent: today\n\nBoom"
    assert "Boom" in own_text(announced)
    assert "Boom" in own_text("x\n\nVon: b\nGesendet: heute\n\nBoom", keep_outlook_blocks=True)


DISCLAIMER_DE = (
    "WICHTIGER HINWEIS: Diese E-Mail kann vertrauliche oder rechtlich geschützte\n"
    "Informationen enthalten. Wenn Sie nicht der richtige Adressat sind, informieren Sie\n"
    "bitte sofort den Absender. Für Fehler, Datenverlust oder Ausfälle kritischer Systeme\n"
    "übernehmen wir keine Haftung. Der Betrieb steht unter ständiger Überwachung."
)
DISCLAIMER_EN = (
    "This e-mail may contain confidential information. If you are not the intended\n"
    "recipient, please delete it. We accept no liability for errors, data loss or the\n"
    "failure of critical systems. Operations are halted for nobody."
)


@pytest.mark.parametrize(
    "text",
    [
        "Hallo,\n\nwie kann ich einstellen, dass die Benachrichtigungen nach jeder Sicherung\n"
        "zusätzlich an unsere Bereitschaftsadresse gehen? SEP sesam 5.1.0.4 auf Windows\n"
        "Server 2022.\n\nDanke!\nJens Krause\n\n-- \nStadtwerke Havelberg GmbH\n\n" + DISCLAIMER_DE,
        "Hello,\nhow can I add a second notification address? SEP sesam 5.1.0.4 on Windows\n"
        "Server 2022.\n\nThanks\nJohn\n\n" + DISCLAIMER_EN,
    ],
)
def test_signature_and_disclaimer_are_not_the_request(text: str) -> None:
    u = understand("Benachrichtigung", text)
    assert (u.severity, u.stated_severity) == (4, None)
    assert "classification" in u.missing_info
    assert "os_version" not in u.missing_info


def test_the_setup_named_in_a_signature_still_counts() -> None:
    text = (
        "Seit Montag bricht die Sicherung des Fileservers ab.\n\nGruß\nJosef\n\n--\n"
        "Josef Huber, Sattlerei Huber\nSystem: SEP sesam 5.1.0.4 auf Windows 11 Pro\n"
        "Sicherungsziel: WD My Book 8 TB (USB 3.0)\nBetreiber kritischer Infrastruktur"
    )
    u = understand("Sicherung", text)
    assert not {"os_version", "hardware"} & set(u.missing_info)
    # What kind of request it is, the signature does not say: nor its "kritischer".
    assert "classification" in u.missing_info and u.stated_severity is None
    # Words after the name without a separator are the writer's.
    assert "classification" not in _missing("x", "Gruß\nJosef\n\nPriorität: hoch")


def test_a_forward_below_the_signature_is_still_read() -> None:
    text = (
        "Siehe unten.\n\n-- \nJosef\n\n---------- Forwarded message ---------\n"
        "From: a\n\nDer Restore bricht ab."
    )
    assert "Restore bricht ab" in without_signature(own_text(text))
    assert without_signature("Frage\n--\nJosef\nTel. 1") == "Frage"


@pytest.mark.parametrize(
    "text",
    [
        "The restore fails with:\nERROR sm_db_restore: checksum mismatch in block 88213",
        "The restore fails with:\n\nsm_db_restore: checksum mismatch in block 88213",
        "Der Restore bricht ab mit:\nsm_restore: Saveset nicht gefunden",
        "Restore aborts with 'checksum mismatch in block 88213'",
        "Backup fails: Access is denied (0x5)",
    ],
)
def test_an_error_on_its_own_line_or_in_single_quotes_is_given(text: str) -> None:
    """HTML loses indentation: a program's message on the line after "fails with:" counts
    when it opens as one does (an error word, the program's name)."""
    assert has_error_text(text)
    assert not has_error_text("The restore fails with:\nthe usual message, I think")


@pytest.mark.parametrize(
    "text",
    [
        "Hi, all backup jobs red this morning at one of our customers. Pls call me asap",
        "Hi, all backup jobs are red this morning.",
        "Hi, none of last night's backups ran.",
    ],
)
def test_all_backups_failing_in_english_is_major_as_in_german(text: str) -> None:
    assert _sev(text, "backup") == 2
    assert "action" not in _missing("backup", text)


def test_a_copy_or_a_fallen_throughput_names_the_action() -> None:
    copy = 'Die Kopie auf das zweite Bandlaufwerk bricht ab mit "E: Media is write protected".'
    assert has_action(copy)
    assert has_action(
        "Nach der Migration ist der Throughput der Full-Backups auf 60 MB/s gedroppt."
    )
    assert has_action("The throughput of the full backups dropped from 400 to 60 MB/s.")
    assert not has_action("Eventually we want to put a copy in the cloud.")


# ----------------------------------------------------------------------------- missing info


def _missing(subject: str, text: str, attachments: tuple[Attachment, ...] = ()) -> set[str]:
    return set(understand(subject, text, attachments).missing_info)


COMPLETE_DE = (
    "Einstufung: Minor\nBeim Zurücksichern eines Ordners kommt:\n"
    "  sbc: Error: cannot open file\nSEP sesam 5.1.0.4 auf Windows Server 2022, "
    "Sicherung auf eine Synology NAS."
)
COMPLETE_EN = (
    "Severity: minor\nWhile restoring a folder we get:\n  sbc: Error: cannot open file\n"
    "SEP sesam 5.1.0.4 on SLES 15 SP5, backups go to an LTO-8 tape library."
)


@pytest.mark.parametrize("text", [COMPLETE_DE, COMPLETE_EN])
def test_complete_request_misses_nothing(text: str) -> None:
    assert _missing("x", text) == set()


def test_each_field_missing_de() -> None:
    assert "classification" in _missing("x", COMPLETE_DE.replace("Einstufung: Minor", ""))
    assert "error_message" in _missing(
        "x", COMPLETE_DE.replace("  sbc: Error: cannot open file", "")
    )
    assert "os_version" in _missing("x", COMPLETE_DE.replace("auf Windows Server 2022", ""))
    assert "os_version" in _missing("x", COMPLETE_DE.replace("5.1.0.4", ""))
    assert "hardware" in _missing("x", COMPLETE_DE.replace("auf eine Synology NAS", ""))
    assert "action" in _missing("Lizenzpreise", "Was kostet eine Lizenz pro Terabyte?")


def test_each_field_missing_en() -> None:
    assert "classification" in _missing("x", COMPLETE_EN.replace("Severity: minor", ""))
    assert "error_message" in _missing(
        "x", COMPLETE_EN.replace("  sbc: Error: cannot open file", "")
    )
    assert "os_version" in _missing("x", COMPLETE_EN.replace("on SLES 15 SP5", ""))
    assert "hardware" in _missing("x", COMPLETE_EN.replace("to an LTO-8 tape library", ""))
    assert "action" in _missing("Pricing", "Is the licence priced per socket or per terabyte?")


def test_question_counts_as_classification_and_wrong_claims_too() -> None:
    assert "classification" not in _missing("Frage zur Lizenz", "Hallo")
    assert "classification" not in _missing("x", "This is CRITICAL")


def test_question_compounds_name_a_request_type() -> None:
    assert "classification" not in _missing("Erweiterung", "Ich habe eine Lizenzfrage.")
    assert "classification" not in _missing("Clients", "A licensing question about clients.")
    # A query or any request is no type: "Abfrage", "Anfrage" stay unclassified.
    assert "classification" in _missing("Katalog", "Die Abfrage des Katalogs dauert lange.")


def test_a_library_is_hardware_only_with_tapes() -> None:
    assert "hardware" in _missing("x", "Die PCs der Gemeindebibliothek sollen gesichert werden.")
    assert "hardware" not in _missing("x", "Wir sichern auf die Magnetbandbibliothek.")
    assert "hardware" not in _missing("x", "Wir sichern auf die Tape-Bibliothek im Keller.")
    loading = "sbc: error while loading shared libraries: libssl.so.3"
    assert "hardware" in _missing("x", f"Nach dem Upgrade kommt\n{loading}")
    assert "hardware" not in _missing("x", "Backups go to our tape library, it says: " + loading)


def test_a_recovery_being_attempted_is_an_action() -> None:
    assert "action" not in _missing("DR", "Wir wollen einen Disaster-Recovery-Test machen.")
    assert "action" not in _missing("BMR", "We want to run a BMR of the file server.")
    assert "action" in _missing("DR", "Was kostet die Recovery-Option?")


def test_a_version_updated_from_is_not_asked_to_be_updated() -> None:
    """Review finding: "upgraded from SEP sesam 4.4.3.86 to 5.1.0.4" had the reply ask the
    customer to plan the update from 4.4.3.86. A planned update still runs the old one."""
    assert sesam_versions("Last week we upgraded from SEP sesam 4.4.3.86 to 5.1.0.4.") == (
        "5.1.0.4",
    )
    assert sesam_versions("Update des sesam Clients auf 5.1.0.4 (vorher 4.4.3.86).") == ("5.1.0.4",)
    for text in (
        "Can we update from SEP sesam 4.4.3.86 to 5.1.0.4?",
        "Server sesam 5.1.0.4, Client sesam 4.4.3.86",
    ):
        assert set(sesam_versions(text)) == {"4.4.3.86", "5.1.0.4"}, text
    # Nothing newer told beside it: it is all we know of what runs.
    assert sesam_versions("We upgraded from SEP sesam 4.4.3.86 yesterday.") == ("4.4.3.86",)


def test_a_labelled_action_is_the_action_whatever_its_words() -> None:
    """Review finding: "Aktion: Konfiguration Medienpool." (a form's answer) was not seen,
    so the follow-up supplying it left the ticket in needs-info, unanswered."""
    for text in (
        "Aktion: Konfiguration Medienpool.",
        "Action: comparing backup job settings.",
        "Action: tape inventory.",
        "Aktion: beim Speichern des Medienpools.",
        "Fehler kommt immer.\n- Action: nightly backup job MX01_full\n",
        "**Aktion:** Bandinventur",
    ):
        assert "action" not in _missing("x", text), text
    # No action is named by a blank or placeholder value, or a bounce's delivery action.
    for text in (
        "Aktion: -",
        "Action: n/a",
        "Aktion:\nkommt immer",
        "Action: failed",
        "Reaction: bad",
    ):
        assert "action" in _missing("x", text), text


def test_the_backup_setup_and_the_programs_words_name_no_action() -> None:
    """The operation is what the problem occurs in or what is being attempted: where the
    backups go, a setting asked about and a quoted error's verbs are none of that."""
    for text in (
        "Was bedeutet der gelbe Balken? Gesichert wird auf eine USB-Festplatte.",
        "What does this notice mean? We are backing up to a QNAP.",
        "Die Spalte ist abgeschnitten. Gibt es eine Einstellung dafür?",
        "Im Dashboard steht 0 Byte. Zur Probe haben wir Dateien zurückgeholt, das ging "
        "einwandfrei.",
        'Ein PC steht jeden Morgen auf rot: "Error: Cannot connect to client [PC7]"',
        "KAT02 is red every morning: 'sbc-1410: Error: Cannot open file [D:\\idx\\main.lck]'",
    ):
        assert "action" in _missing("x", text), text
    for text in (
        "Ich wollte die Daten aus der Sicherung von gestern zurückholen, es bricht ab.",
        "Die Daten bekomme ich nicht aus der Sicherung zurück.",
        "I tried to bring the D: drive back from last night's backup.",
        "We're restoring the file server and it's stuck at 3 GB.",
    ):
        assert "action" not in _missing("x", text), text


def test_more_spellings_of_a_restore_an_os_and_a_form_field() -> None:
    assert "action" not in _missing("x", "Die Rückspielung der Digitalisate ist sehr langsam.")
    wrapped = "Zum Stand:\n- Die Rücksicherung wurde am Montag um 08:00 Uhr\n  gestartet.\n"
    assert "action" not in _missing("x", wrapped)
    u = understand("x", "KSM-NB07: Win 11 23H2, Client 5.1.0.4. Server 5.1.0.4 / WS2019.")
    assert "os_version" not in u.missing_info and "Win 11" in u.operating_systems
    form = "Art der Meldung: Störungsmeldung\nDie Sicherung läuft bis mittags."
    assert "error_message" in _missing("x", form)
    assert "error_message" not in _missing("x", "Meldung: Zugriff verweigert")


def test_a_standstill_in_non_native_english_with_archive_in_the_log_is_critical() -> None:
    text = (
        "We try to make restore with SEP sesam, but restore is every time stopping with error:\n"
        '  sbc-pg: Error: pg_restore: invalid checksum in archive member "toc.dat"\n'
        "We try also restore from Monday night and from Sunday night, is the same error, so "
        "older backup is not helping. Other copy of this database we do not have.\n"
        "Not one bus is leaving the depot. We cannot make it on paper, the routes are too many."
    )
    assert rules_severity("restore of dispatch database not working", text)[0] == 1


def test_a_test_environment_is_a_test_system() -> None:
    text = (
        "Der Restore auf das Validierungssystem bricht ab. Es handelt sich ausschließlich "
        "um die Testumgebung; der Produktivbetrieb läuft einwandfrei."
    )
    assert rules_severity("Restore auf Validierungssystem bricht ab", text)[0] == 3


def test_attached_log_counts_as_error_message() -> None:
    log = Attachment("sbc.log", "text/x-log", 40, "E: backup failed")
    assert "error_message" not in _missing("x", "Backup fails, log attached.", (log,))
    plain = Attachment("notes.txt", "text/plain", 10, "nothing to see")
    assert "error_message" in _missing("x", "Backup fails, notes attached.", (plain,))


def test_quoted_acknowledgement_does_not_supply_fields() -> None:
    text = "Danke.\n\n-----Ursprüngliche Nachricht-----\nBetriebssystem und SEP sesam Version 5.1.0"
    assert "os_version" in _missing("AW: x", text)


def test_follow_up_fields_field_order() -> None:
    assert understand("x", "").missing_info == FIELDS


# ----------------------------------------------------------------------------- language, versions


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Hallo, die Sicherung läuft nicht mehr. Gruß", "de"),
        ("Hi, the backup does not run anymore. Thanks", "en"),
        (
            "Hi, see below.\n\nFrom: x\nSent: y\n\nDie Sicherung läuft nicht und wir sind ratlos",
            "en",
        ),
    ],
)
def test_language(text: str, lang: str) -> None:
    assert understand("x", text).language == lang


def test_versions_and_operating_systems() -> None:
    text = "SEP sesam Server 5.0.0.12 auf SLES 15 SP5, ONTAP 9.14.1, Firmware 5.80, vCenter 8.0"
    assert sesam_versions(text) == ("5.0.0.12",)
    assert operating_systems(text) == ("SLES 15 SP5",)
    assert operating_systems("Windows Server 2022 and Windows 11 Pro") == (
        "Windows Server 2022",
        "Windows 11 Pro",
    )


def test_a_version_wrapped_onto_its_own_line_is_still_sesams() -> None:
    """A mail client wraps "... SEP sesam 5.1.0.4 ..." between the name and the number:
    the version's own line has no word before it, and os_version counted as missing."""
    assert sesam_versions("Wir setzen SEP sesam\n5.1.0.4 unter Windows Server 2019 ein.") == (
        "5.1.0.4",
    )
    assert "os_version" not in missing_info("Server: SEP sesam\n5.1.0.4 auf Debian 12")
    # The line above must end in a sesam word; a blank line between ties nothing.
    assert sesam_versions("Firmware\n\n1.2.3 is installed") == ()
    assert sesam_versions("PostgreSQL\n13.1.2 on the server") == ()


def test_a_third_version_part_of_two_digits_is_read() -> None:
    """ "sesam 5.0.10" went unread: the request waited in needs-info for a version it gave,
    and got no old-version notice (black-box review). A date stays no version."""
    assert sesam_versions("We run SEP sesam 5.0.10 on SLES 15 SP5.") == ("5.0.10",)
    assert older_versions(("5.0.10",), "5.1.0") == ("5.0.10",)
    assert sesam_versions("SEP sesam am 5.10.2026 installiert") == ()


def test_older_versions_compare_numerically() -> None:
    assert older_versions(["4.4.3.86", "5.1.0.4", "5.0.0.12", "5.1.0"], "5.1.0") == (
        "4.4.3.86",
        "5.0.0.12",
    )
    assert older_versions(["5.10.0"], "5.9.0") == ()
    assert older_versions(["5.0.0"], "") == ()


# ----------------------------------------------------------------------------- the corpus


def test_sample_corpus_meets_targets() -> None:
    bench = bench_understanding()
    assert_understanding_targets(bench.score(*bench.pure_results(SAMPLES)))


def test_boilerplate_words_are_no_classification() -> None:
    text = "Backup fails.\nIf you have any questions, call me. We run business-critical ERP."
    u = understand("Backup", text)
    assert "classification" in u.missing_info and u.stated_severity is None


def test_an_idiom_with_frage_is_no_classification() -> None:
    for text in (
        "Eine Sicherung erst am Vormittag kommt natürlich nicht in Frage.",
        "Losing a day of files is out of the question.",
        "The office has stopped doing anything major on that PC.",
        "The backup of SRV-P2 and DB_P3 fails.",
    ):
        assert "classification" in _missing("Backup läuft zu lange", text), text
    assert "classification" not in _missing("Backup", "Type: problem report. The job fails.")


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("Sev1. Tried the hotline.", 1),
        ("Sev 2", 2),
        ("Sev3.", 3),
        ("Prio 1", 1),
        ("sev-4", 4),
        ("P1 - depot VM restore", 1),
        ("Our priority ....... P3", 3),
        ("Low priority, this is only our staging box.", 3),
        ("We give this high priority.", 2),
        ("Priorität aus unserer Sicht: tief", 3),
    ],
)
def test_a_numbered_severity_class_is_a_claim(text: str, level: int) -> None:
    u = understand("Restore", f"{text}\nThe restore of the file server fails.")
    assert "classification" not in u.missing_info and u.stated_severity == level


def test_wrapped_wrote_line_starts_history() -> None:
    text = (
        "New info here.\n\nOn Mon, 2 Nov 2026 at 10:00, Support <\nsupport@x.example> wrote:\nold"
    )
    assert own_text(text) == "New info here."


def test_english_log_lines_do_not_make_german_text_english() -> None:
    text = (
        "Hallo, seit gestern bricht die Sicherung ab:\n"
        "  sbc: Error: the connection to the server was reset by the peer and it is gone\n"
        "  STATUS=ERROR MSG=Backup of task [X] failed for the client\nGruß"
    )
    assert understand("x", text).language == "de"
    # A message wrapped onto unindented lines: they are the program's words too.
    wrapped = (
        "Sicherung Notebook seit Fr. fehlerhaft:\n\n"
        "sbc-1104: Error: Cannot open file [C:\\x.mdb]:\nThe process cannot access the file "
        "because it is being used by another\nprocess (0x80070020)\n\nRest ok. Gruß"
    )
    assert understand("x", wrapped).language == "de"


def test_question_about_a_harmless_error_is_cosmetic() -> None:
    text = 'Frage: im Log steht "Error: access denied" für pagefile.sys, die Sicherung ist grün.'
    # The rules' reading; the learned model, sure of Minor here, overrules it (a known miss).
    assert rules_severity("", text)[0] == 4


def test_no_single_backup_running_with_paused_work_is_major() -> None:
    text = "Seit Samstag läuft keine einzige Sicherung. Die Buchhaltung hat alles angehalten."
    assert _sev(text) == 2


def test_failure_question_without_how_to_stays_minor() -> None:
    assert _sev("Question: why does the backup of client PC7 fail every night?") == 3


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("The job fails with 'connection refused' since Monday.", True),
        ("Der Job endet mit 'Zugriff verweigert'.", True),
        ("Backups fail with ORA-19511 every night.", True),
        ("RMAN-03009 appears in the log.", True),
        ("The job ends with exit code 2.", True),
        ("I don't know why it's slow, it's the customer's 'best' server.", False),
        ("We run SQL Server 2019 and Windows Server 2022.", False),
        ("The mail was sent in ISO-8859-1.", False),
    ],
)
def test_error_text_in_single_quotes_and_product_codes(text: str, quoted: bool) -> None:
    assert has_error_text(text) is quoted


def test_priority_with_a_level_word_is_a_classification() -> None:
    u = understand(
        "Priorität hoch: Restore einer Datei", "Beim Restore kommt 'Fehler: nicht gefunden'."
    )
    assert "classification" not in u.missing_info


def test_how_to_set_something_names_the_action() -> None:
    u = understand("Frage", "Kann man Benachrichtigungen nur für fehlgeschlagene Jobs einstellen?")
    assert "action" not in u.missing_info and u.severity == 4


@pytest.mark.parametrize(
    "text",
    [
        "Since Thursday the sesam client process sits at 95-100% CPU, also when no job runs. "
        "The nightly runs still complete. What can we do?",
        "Laufwerk 1 steht jeden Morgen auf gesperrt, die Jobs laufen über Laufwerk 2. "
        "Der Betrieb ist nicht beeinträchtigt. Was bedeutet das?",
    ],
)
def test_a_malfunction_without_a_failure_word_is_no_mere_question(text: str) -> None:
    """Told with a question and no failure word, these had read Cosmetic ("no failure
    described"); a process eating the CPU and a drive taken out are partial losses."""
    assert rules_severity("Frage", text)[0] == 3
    assert "action" in _missing("Frage", text)  # no operation for all that


def test_a_slow_restore_with_no_error_has_not_failed() -> None:
    text = (
        "We started the restore of that single folder on Saturday. It runs at 300 KB/s. "
        "There is no error, it is just slow - restores of other folders ran at normal speed. "
        "Twelve translators cannot work "
        "without the memories and there is no other copy of the data."
    )
    severity, reasons = rules_severity("Restore very slow", text)
    assert severity == 2 and "too slow" in reasons[0]


@pytest.mark.parametrize(
    ("subject", "text", "level", "said", "instead", "then"),
    [
        pytest.param(
            "Rücksicherung geht nicht",
            "Wir möchten für eine Anfrage im Dezember den Ordner Faelle/2024 zurückholen "
            "(abgeschlossene Fälle, wird aktuell nicht gebraucht). Die Rücksicherung bricht ab "
            "mit Zugriff verweigert. Im Labor läuft sonst alles normal.",
            3,
            "wird aktuell nicht gebraucht",
            "brauchen wir morgen",
            2,
            id="restore-of-data-nobody-needs-now",
        ),
        pytest.param(
            "Sicherung gelb",
            'Seit Montag ist die Sicherung vom Kassen-PC jeden Tag gelb: "Sicherung mit '
            'Warnungen beendet". Die Kassa funktioniert eh normal und wir verkaufen ganz '
            "normal, aber ich will nicht, dass uns am Ende die Daten fehlen!",
            3,
            "ich will nicht, dass uns am Ende die Daten fehlen",
            "Daten fehlen",
            2,
            id="a-loss-the-writer-fears",
        ),
        pytest.param(
            "Einzelrestore geht nicht",
            "Der Restore eines einzelnen Ordners aus der Sicherung bricht ab. Die ganze "
            "Datenbank lässt sich zurückspielen, es ist also nichts verloren und alle arbeiten "
            "normal.",
            3,
            "es ist also nichts verloren",
            "der Ordner fehlt",
            2,
            id="nothing-lost-another-way",
        ),
        pytest.param(
            "Restore of the revenues database failing",
            "The on-call engineer started a restore of the last full backup plus archive logs. "
            "The restore fails after five minutes. The full backups of 3 and 1 November "
            "produce identical errors. There is no standby database and no other copy.",
            1,
            "archive logs",
            "the files of the 2019 archive",
            2,
            id="a-databases-archive-logs-are-no-archived-data",
        ),
        pytest.param(
            "Design server backups red",
            "We build ferries, with the occasional new build for the navy. The backup of the "
            "design server has failed for four nights. The designers copy to USB sticks, "
            "which is hardly an acceptable alternative.",
            2,
            "has failed for four nights",
            "fails occasionally",
            3,
            id="hardly-an-alternative-and-the-occasional-new-build",
        ),
    ],
)
def test_one_fact_turns_the_level(
    subject: str, text: str, level: int, said: str, instead: str, then: int
) -> None:
    """The level of ``text``, and ``then`` with the one fact that decides it told the other
    way: data nobody needs now or only feared lost (Minor) against needed or lost
    (Major); a database's archive logs against archived files (Critical, Major);
    failing for nights against failing now and then (Major, Minor)."""
    assert rules_severity(subject, text)[0] == level
    assert rules_severity(subject, text.replace(said, instead))[0] == then


def test_mails_that_no_longer_arrive_are_a_failure() -> None:
    text = "Seit einer Woche kommen keine Benachrichtigungs-Mails von sesam mehr an. Alles grün."
    assert rules_severity("Benachrichtigungen", text)[0] == 3
    good_news = "Seit dem Update kommen keine Fehlermeldungen mehr, alles läuft."
    assert rules_severity("Update", good_news)[0] == 4


def test_slowness_that_reaches_the_users_is_major() -> None:
    text = (
        "Since we added 20 TB the full backup runs 30 hours and overlaps the working day. "
        "Users complain about slow file access. No errors."
    )
    assert understand("Backup window too long", text).severity == 2


# ----------------------------------------------------------------------------- generalised
# Phrasings met on the held-out corpus and its probes; texts of our own, not corpus text.

_RESTORE_DE = (
    "Die Rücksicherung vom Montag bricht ab mit 'Fehler: Saveset defekt'. Die älteren "
    "Vollsicherungen vom Freitag enden mit demselben Fehler. Eine andere Kopie gibt es nicht."
)
_RESTORE_EN = (
    "The restore of last night's backup fails with 'error: media corrupt'. Older backups "
    "from last week fail the same way. There is no other copy."
)


@pytest.mark.parametrize(
    "text",
    [
        "Seit heute früh steht der Betrieb still. " + _RESTORE_DE,
        "Seit 7 Uhr steht bei uns alles still. " + _RESTORE_DE,
        "Bei uns geht gar nichts mehr. " + _RESTORE_DE,
        "Business has come to a complete halt. " + _RESTORE_EN,
        "We are completely down. " + _RESTORE_EN,
        "All our stores are down and cannot sell anything. " + _RESTORE_EN,
    ],
)
def test_halt_phrasings_make_failing_restores_critical(text: str) -> None:
    assert _sev(text) == 1


def test_down_to_a_few_tapes_is_no_halt() -> None:
    assert _sev("We are down to two free tapes, how do I add new ones?") == 4


def test_not_urgent_claim_does_not_outweigh_all_backups_failing() -> None:
    text = "Eilt nicht. Seit drei Nächten schlagen alle Sicherungen fehl, ein anderes Ziel gibt es nicht."
    assert _sev(text) == 2
    assert _sev("Die Benachrichtigung kommt nicht mehr an, eilt aber nicht.") == 3


@pytest.mark.parametrize(
    "text",
    [
        "Die Sicherung läuft seit dem Update bis in den Vormittag und ist extrem langsam, "
        "die Kollegen können kaum arbeiten.",
        "Die Sicherung ist extrem langsam, unsere Mitarbeitenden beschweren sich.",
        "Seit drei Tagen schlägt die Sicherung des Mailservers fehl. Die Logs laufen voll.",
    ],
)
def test_wider_impact_phrasings_are_major(text: str) -> None:
    assert _sev(text) == 2


def test_warnings_in_any_tense_are_a_failure_and_living_with_it_a_workaround() -> None:
    assert _sev("The nightly job ends with warnings for one file, the rest is fine.") == 3
    text = "The dashboard shows times in UTC instead of local time; we can live with it."
    assert _sev(text) == 4


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("The restore fails with\n\n    Msg 3241: media family incorrectly formed", True),
        ("Der Job endet mit\n\n    W: Datei geändert während der Sicherung", True),
        ("we get\n\n\tsbc: could not open device", True),
        ("Im Protokoll steht: Datenbank nicht erreichbar", True),
        ("Fehlermeldung im Log: Zugriff verweigert", True),
        ("It fails with the message 'Media not available'.", True),
        ("The service stops.\n\n  The SEP sesam Server service terminated unexpectedly.", True),
        ("The service stops. It terminated unexpectedly, the log says nothing.", False),
        ("Our setup:\n\n    SEP sesam 5.1.0.4\n    Windows Server 2022", False),
        ("See the backup log\n\n    SEP sesam 5.1.0", False),
        ("Eine Fehlermeldung gibt es keine.", False),
    ],
)
def test_pasted_and_introduced_error_output(text: str, quoted: bool) -> None:
    assert has_error_text(text) is quoted


def _versions_line_by_line(text: str) -> tuple[str, ...]:
    """The plain definition: VERSION on each line, context from that line only; a version
    that opens its line (blanks before it) or follows one word there takes its words
    before from the line above too."""
    lines = text.splitlines()
    found = []
    for i, line in enumerate(lines):
        for m in rules.VERSION.finditer(line):
            before = line[max(0, m.start() - 60) : m.start()]
            if len(before.split()) <= 1 and m.start() < 60 and i > 0:
                above = lines[i - 1][-60:]
                before = f"{above} {before}" if before.strip() else above
            if ties_to_sesam(before, line[m.end() : m.end() + 20]):
                found.append(m.group(1))
    found.extend(m.group(1) for m in rules.SHORT_VERSION.finditer(text))
    return tuple(dict.fromkeys(found))


_VERSION_BITS = st.sampled_from(
    ["5.1.0", "v4.4.3.84", "1.2.3", "0.9.9", "12.3.4", "9.14.1", ".", "sesam ", "SEP ",
     "Version ", "Firmware ", "ONTAP ", "client", " ", "x", "\n", "\r\n", "\r", "\x85",
     "\u2028", "\x0c", "a" * 30]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(_VERSION_BITS, max_size=30).map("".join))
def test_versions_are_found_as_a_line_by_line_search_finds_them(text: str) -> None:
    sesam_versions.cache_clear()
    assert sesam_versions(text) == _versions_line_by_line(text)


_MARKER_BITS = st.sampled_from(
    ["-----", "--", " ", "\t", "\n", "\r", "Original Message", "Ursprüngliche Nachricht",
     "Forwarded message", "Begin forwarded message:", "Anfang der weitergeleiteten Nachricht:",
     "On Mon, 2 Nov 2026", "Am 02.11.2026 schrieb", "Le lundi", " a écrit", " wrote:",
     " schrieb ", ":", "x", "> "]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(_MARKER_BITS, max_size=25).map("".join))
def test_a_history_or_forward_line_is_never_missed_by_the_whole_text_search(text: str) -> None:
    """own_text searches no line when the whole-text search finds nothing: that must only
    happen when no line alone matches either."""
    for rule in (rules.FORWARD_START, rules.HISTORY_START):
        if any(rule.full.search(line) for line in text.split("\n")):
            assert _line_rule(rule, text) is not None


def test_more_os_version_hardware_and_action_spellings() -> None:
    assert operating_systems("Win Server 2019") and operating_systems("auf Server 2022")
    assert not operating_systems("SQL Server 2019")
    assert sesam_versions("SEP sesam v5.1.0") == ("5.1.0",)
    for text in ("Sicherung auf RDX", "der Bandroboter", "Wechselplatten", "den Backup-Speicher"):
        assert "hardware" not in understand("", text).missing_info, text
    for text in (
        "Beim Zurückspielen der Datenbank kommt ein Fehler.",
        "The verify of the saveset fails.",
    ):
        assert "action" not in understand("", text).missing_info, text


def _blank_run(n: int) -> str:
    """A pasted log whose indented lines the language count drops: a run of blank lines."""
    return "Guten Tag,\ndie Sicherung bricht ab.\n" + "\n" * n + "Viele Grüße\nAnna"


def test_a_long_run_of_blank_lines_is_read_at_once() -> None:
    """``^\\s*`` under MULTILINE ran from every line start through the rest of a blank
    run: quadratic (16 kB of indented log took 10 s for the language alone, and the
    reply-history check as long). A hang guard, not a speed figure."""
    text = _blank_run(40_000)
    started = time.monotonic()
    assert language(text) == "de"
    assert own_text(text).startswith("Guten Tag")
    assert time.monotonic() - started < 2


def test_many_quoted_blocks_are_read_at_once() -> None:
    """own_text asked at each "> " block for the writer's last line above it, walking back
    through every line kept, and copied the rest of the mail to look at the block:
    quadratic (280 kB of blank lines and quoted lines took 48 s at 5a0e1b8). A hang guard,
    not a speed figure."""
    text = "Unser Log:\n" + ("\n" * 10 + "> a\n") * 20_000
    started = time.monotonic()
    assert own_text(text) == "Unser Log:"  # no error in the blocks: reply history
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("text", "named"),
    [
        pytest.param(
            "Hallo,\n" + "  2026-11-04 sbc: Error: install of x failed, restore aborted\n" * 4_000,
            True,  # the failing restore, by the sentences' noun
            id="log-lines",
        ),
        pytest.param(
            "Hallo, " + 'the client says "install failed" and "restore aborted" again. ' * 4_000,
            True,
            id="one-line-of-quoted-errors",
        ),
        pytest.param(
            "Hallo, " + "Gesichert wird auf die Synology, installiert durch Meier. " * 4_000,
            False,
            id="one-line-of-setup-words",
        ),
    ],
)
def test_a_long_text_of_work_verbs_is_read_at_once(text: str, named: bool) -> None:
    """has_action asked, for each work verb, about its whole line and the whole text
    (where a list item began, which words name no operation): quadratic (280 kB of log
    took 12 s, a 230 kB line over a minute). A hang guard, not a speed figure."""
    started = time.monotonic()
    assert has_action(text) is named
    assert time.monotonic() - started < 2


def test_the_closing_line_cuts_the_language_count_as_before() -> None:
    # Only the words above the closing line count; a closing line with nothing but
    # blank lines above it leaves the whole text.
    assert (
        language("Hello, the restore fails.\n\n\nMit freundlichen Grüßen\nder die das und") == "en"
    )
    assert (
        language("\n\n  Best regards,\nder Server ist nicht erreichbar und die Sicherung") == "de"
    )


def test_one_long_word_of_a_backup_term_is_read_at_once() -> None:
    """ALL_FAIL's ``\\w*sicherung\\w*`` backtracked through every earlier "sicherung" of
    one long word (90 kB took 6 s); the word is now taken whole."""
    started = time.monotonic()
    judge_severity("Problem", "alle " + "sicherung" * 6_000 + " laufen, aller Jobs")
    assert time.monotonic() - started < 2
    assert judge_severity("x", "Seit gestern schlagen alle Sicherungen fehl.") == (
        2,
        ('all backups fail ("alle Sicherungen fehl")',),
    )
    assert judge_severity("x", "Alle Sicherungsjobs brechen ab.")[1] == (
        'all backups fail ("Alle Sicherungsjobs brechen ab")',
    )


def test_bounded_reads_whole_lines_from_both_ends_of_a_long_text() -> None:
    lines = [f"line {i:07d}" for i in range(100_000)]  # 1.3 MB
    text = "\n".join(lines)
    read = bounded(text)
    assert len(read) <= READ_LIMIT
    kept = read.split("\n")
    assert kept[0] == lines[0] and kept[-1] == lines[-1]
    assert set(kept) <= set(lines)  # no line cut in two
    assert bounded("short\ntext") == "short\ntext"


# ----------------------------------------------------------------------------- round 9
# From heldout12/13's blind misses; sentences of our own, not corpus text.


@pytest.mark.parametrize(
    "text",
    [
        # The older backups named after "auch nicht", "not even", "auch wenn ... früheren",
        # "auch die von letzter Woche", "egal welchen Stand": with a standstill, Critical.
        "Die Rücksicherung der Leitstellen-DB scheitert, auch nicht mit den Sicherungen vom "
        "Wochenende. Seit heute früh steht der Betrieb still.",
        "The restore of the billing server fails, not even the previous backups work. "
        "Business has come to a complete halt.",
        "Der Restore bricht ab, auch wenn wir einen älteren Stand auswählen. Die ganze "
        "Kommissionierung steht.",
        "Rücksicherung scheitert, auch die von letzter Woche. Seit sechs Uhr steht bei uns "
        "die Abfüllung.",
        "Die Daten müssen aus der Sicherung geholt werden, das geht nicht, egal welchen Stand "
        "wir nehmen. Die Produktion steht.",
        "The data must come back from the backup, which fails, also not from the older "
        "backups. Our whole plant is at a standstill.",
        # The date's day is no sentence end: "vom 4. und 3. November ... genauso".
        "Die Rücksicherung schlägt fehl. Die Sicherungen vom 4. und 3. November verhalten "
        "sich genauso. Die Produktion steht.",
        # A standstill told by what the business no longer does.
        "Der Restore bricht ab, die älteren Sicherungen genauso. Die Filialen haben ihre "
        "Arbeit eingestellt.",
        "Der Restore bricht ab, die älteren Sicherungen genauso. Seitdem verkaufen wir in "
        "keiner Filiale etwas.",
        "Der Restore bricht ab, die älteren Sicherungen genauso. Bis jetzt sind 0 von 40 "
        "Lastwagen ausgefahren.",
    ],
)
def test_older_backups_and_standstills_in_more_words_are_critical(text: str) -> None:
    assert _sev(text) == 1


@pytest.mark.parametrize(
    "text",
    [
        # Nothing left to restore from, but the work goes on: Major, not Critical.
        "The restore fails and the older backups give the same error; we do not have any "
        "other copy. The nurses can still work, with paper charts for now.",
        "Die Rücksicherung scheitert, die älteren Sicherungen ebenso; eine weitere Kopie "
        "gibt es laut Dienstleister nicht. Die Versorgung der Bewohner ist gesichert.",
        "The restore fails and the older backups give the same error, there is no other "
        "copy. The trucks are driving normally, only the planning lacks its history.",
    ],
)
def test_nothing_left_but_the_work_goes_on_is_major(text: str) -> None:
    assert _sev(text) == 2


def test_what_must_not_be_lost_is_no_loss() -> None:
    text = "Wie kann ich einen Job umbenennen, ohne dass die alten Sicherungen verloren gehen?"
    assert _sev(text) == 4


def test_a_form_row_of_no_error_is_no_failure() -> None:
    text = "Frage zur Anzeige.\n\nError message\nnone\n\nThe clock in the GUI is one hour off."
    assert _sev(text) == 4


def test_a_question_after_a_failure_put_right_is_cosmetic() -> None:
    text = (
        "Last month we lost a folder by a wrong restore, IT got everything back the same "
        "day. Question: can restores be limited to the admin group?"
    )
    assert _sev(text) == 4


def test_a_run_taking_hours_instead_of_hours_is_a_performance_problem() -> None:
    text = (
        "Seit dem Update dauert die Vollsicherung 20 statt 6 Stunden und läuft in die "
        "Arbeitszeit. Fehlermeldungen: keine."
    )
    assert _sev(text) == 2


def test_a_version_wrapped_after_one_word_of_its_sentence_is_still_sesams() -> None:
    text = "Der Backupserver läuft unter Windows Server 2022, SEP sesam Server und Client\nsind 5.1.0.4."
    assert sesam_versions(text) == ("5.1.0.4",)
    assert "os_version" not in missing_info(text)
    # Two words of its own before it on the line: the line above is not read.
    assert sesam_versions("Wir nutzen sesam.\nPostgreSQL ist 13.1.2 hier") == ()


def test_os_names_in_lower_case_and_more_backup_hardware() -> None:
    assert "os_version" not in missing_info("We run sesam 5.1.0.4 on debian 12.")
    for text in ("Target: Dell PowerProtect DD3300", "the Si3 store on a PowerEdge R750"):
        assert "hardware" not in understand("", text).missing_info, text


# ----------------------------------------------------------------------------- round 10
# From heldout15's blind misses (round 9 measured); sentences of our own.

_ROWS_EN = (
    "The restore of the order database fails. Restore points tried:\n\n"
    "  2026-11-10 22:00   failed after 2 min\n"
    "  2026-11-09 22:00   failed after 3 min\n"
    "  2026-11-07 22:00   same\n\n"
)
_ROWS_DE = (
    "Wir versuchen seit Mitternacht, den Server wiederherzustellen:\n\n"
    "12.11. Vollsicherung - Abbruch\n11.11. - gleiche Meldung\n\n"
)


@pytest.mark.parametrize(
    "text",
    [
        # The older backups as the rows of a list or table, one tried backup a line.
        _ROWS_EN + "There is no replica of it anywhere else. The warehouse is at a standstill.",
        _ROWS_DE + "Eine weitere Kopie (Export) haben wir laut Dienstleister nicht.",
        # Standstills: every branch dead, no one can be served, nothing goes out.
        "Der Restore bricht ab, die älteren Sicherungen genauso. Die Kassen in allen 5 "
        "Filialen sind tot.",
        "Der Restore bricht ab, die älteren Sicherungen genauso. Wir können heute also "
        "niemanden abfertigen.",
        "Der Restore bricht ab, die älteren Sicherungen genauso. Kein einziges Paket geht raus.",
    ],
)
def test_tried_backups_in_rows_and_more_standstills_are_critical(text: str) -> None:
    assert _sev(text) == 1


def test_one_restores_pasted_log_is_no_list_of_backups_tried() -> None:
    text = (
        "The restore fails:\n\n2026-11-10 22:00:01 ERROR read failed\n"
        "2026-11-10 22:00:05 ERROR restore aborted\n2026-11-11 00:00:02 ERROR same\n\n"
        "The shop is at a standstill. How can we fix this?"
    )
    assert _Facts("", text).tried_rows is None
    assert rules_severity("", text)[0] == 2  # the model may raise the standstill to Critical
    assert _Facts("", _ROWS_EN).tried_rows is not None


@pytest.mark.parametrize(
    "text",
    [
        "Seit dem Update ist das Buchungssystem extrem langsam, eine Buchung dauert 3 "
        "Minuten in place of 20 Sekunden; das Callcenter schafft nur die Hälfte.",
        "The backup takes 12 hours in place of 3 and the booking system is very slow; our "
        "call centre makes half of the usual bookings.",
        "The Exchange backups fail every night. The log volume fills and we have had to "
        "switch off journaling for the legal team.",
    ],
)
def test_half_the_work_or_a_function_given_up_is_major(text: str) -> None:
    assert _sev(text) == 2


@pytest.mark.parametrize(
    "text",
    [
        "Ich finde den Restore-Assistenten nicht mehr. Bisher habe ich mir damit geholfen, "
        "dass ich den alten Client starte. Wo ist er hin?",
        "Die GUI startet auf dem Notebook des Lagerleiters nicht mehr. Auf allen anderen "
        "Rechnern geht sie.",
        "The GUI does not start on one laptop; until then she uses the web UI.",
    ],
)
def test_a_way_that_works_or_one_machine_is_cosmetic(text: str) -> None:
    assert _sev(text) == 4


# ----------------------------------------------------------------------------- round 11
# From heldout14's blind misses (round 10 measured); sentences of our own.


@pytest.mark.parametrize(
    "text",
    [
        # Older backups tried back to a date, each stopping at the same place, "it makes
        # no difference", all restore points of two weeks, a copy elsewhere "same result".
        "Die Rücksicherung bricht ab. Ich habe jede Nacht zurück bis 12.10. probiert, "
        "immer das. Die Produktion steht.",
        "Der Restore bricht ab. Ich habe den Stand davor genommen und so weiter; jeder "
        "einzelne hört an derselben Stelle auf. Die Produktion steht.",
        "The restore of the order server fails. He tried Sunday's and also the one from "
        "the week before, it makes no difference. Nothing goes out since four o'clock.",
        "Die Datenbank lässt sich nicht wiederherstellen, sämtliche Sicherungsstände der "
        "letzten Woche durchprobiert, keiner lässt sich einspielen. Seit sechs Uhr kann "
        "keine unserer 80 Filialen etwas verkaufen.",
        "Die Wiederherstellung hört nach kurzer Zeit auf. Die Auslagerungskopien vom "
        "Oktober: gleiches Ergebnis. 12 Lastwagen stehen an der Rampe.",
        # Not a single one of what the business makes.
        "Der Restore bricht ab, die älteren Stände genauso. Seit Mitternacht ist keine "
        "einzige Zeitung gedruckt worden.",
        "The restore fails, the older backups give the same error. Not a single parcel "
        "has left the hub since midnight.",
    ],
)
def test_older_backups_tried_back_and_fleets_waiting_are_critical(text: str) -> None:
    assert _sev(text) == 1


def test_a_department_closed_for_a_course_is_no_standstill() -> None:
    text = "Unsere IT-Abteilung ist diese Woche geschlossen. Wie stelle ich die Berichtssprache um?"
    assert _sev(text) == 4


def test_what_a_display_says_is_no_standstill() -> None:
    text = "Im Display steht:\n\nCLEAN REQUIRED\n\nMuss ich etwas tun? Alle arbeiten normal."
    assert _sev(text) != 2


def test_a_restore_and_its_older_backups_failing_outweigh_the_rest_going_on() -> None:
    text = (
        "Die Rücksicherung der Anzeigendatenbank bricht ab, die Sicherung vom Samstag: "
        "gleiche Meldung. Die Anzeigenannahme steht, die Redaktion ist nicht betroffen, die "
        "Zeitung erscheint ganz normal."
    )
    # The rules' judgement. The model trained on 60 corpora reads these three sentences
    # Minor at P 0.60, its threshold, and overrules; with the model of 54 it did not.
    assert rules_severity("", text)[0] == 2
    assert _sev(text) in (2, 3)


def test_not_a_single_error_is_no_standstill() -> None:
    for text in (
        "Frage: das Protokoll zeigt keine einzige Fehlermeldung, ist das normal?",
        "Question: the log shows not a single warning, is that expected?",
    ):
        assert _Facts("", text).halt is None and _sev(text) >= 3, text


# ----------------------------------------------------------------------------- round 12
# From heldout16/17's blind misses (round 11 and "not a single" measured); our sentences.


@pytest.mark.parametrize(
    "text",
    [
        # The failure told in the sentence after the restore ("Das bricht ab", "Same
        # words.") or on the line its introduction ends with.
        "Er versucht seit Stunden, den Server aus der Sicherung zurückzuholen. Das bricht "
        "jedes Mal ab, auch mit den Ständen von gestern. Die Produktion steht.",
        "The restore of the till server fails. I tried the backup from Monday and the one "
        "from Sunday. Same words. We cannot sell a single ticket.",
        "Restoring it with sesam gives\n\n    Error: data store offline\n\nand we get the "
        "same with last week's backups. We cannot sell a single ticket.",
        # A table whose cells stand on lines of their own.
        "Wiederherstellung Stand 12.11.\nabgebrochen: Saveset defekt\n\n"
        "Wiederherstellung Stand 05.11.\ngleiche Meldung\n\n"
        "Unsere Mitarbeiter sitzen vor leeren Bildschirmen.",
        "Our IT says your software will not bring the database back; they tried several "
        "backup dates, same result every time. We cannot release a single order.",
        # "not one of our 60" is none of them working, not a part.
        "The restore fails; Thursday's and Friday's backups stop with the same message, and "
        "not one of our 60 engineers can open a drawing. The office is sitting idle.",
        "Der Restore bricht ab, die älteren Sicherungen genauso. Ohne das System dürfen "
        "unsere Ärztinnen keine Behandlung beginnen.",
        "Der Restore bricht ab, die älteren Sicherungen genauso. 14 Kühl-LKW stehen an der Rampe.",
    ],
)
def test_failures_told_on_and_more_standstills_are_critical(text: str) -> None:
    assert _sev(text) == 1


def test_a_sentence_that_goes_on_about_something_else_joins_no_restore_to_a_failure() -> None:
    text = (
        "Gestern haben wir eine Datei zurückgeholt. Das war nur ein Test. Heute schlägt "
        "die Sicherung fehl."
    )
    assert _Facts("", text).restore_fails is None


# ----------------------------------------------------------------------------- round 13
# From heldout19's blind misses (round 12 measured); sentences of our own.


@pytest.mark.parametrize(
    "text",
    [
        "Der Restore geht nicht, der von Samstag genauso. Die Fähre darf so nicht ablegen.",
        "Die Wiederherstellung scheitert. Die Stände von gestern und von letzter Woche geben "
        "dieselbe Meldung. Ohne das System dürfen wir keine Charge freigeben.",
        "The restore stops with a CRC error, and the backups from Sunday and Wednesday give "
        "the same error. No feed is produced since 2 am.",
        "Restore of the playout server fails; Tuesday's and Friday's savesets end the same "
        "way. Without playout we have no programme at all.",
        # Someone at the fix is no business going on.
        "The restore fails, the backups from Friday and last week stop with the same "
        "message, and there is no other copy. Our admin asked me to write while he keeps "
        "working on it.",
    ],
)
def test_more_older_backups_and_standstills_are_critical(text: str) -> None:
    assert _sev(text) == 1


def test_a_past_total_outage_before_a_question_is_no_failure() -> None:
    text = (
        "Wir hatten letztes Jahr einen Totalausfall mit einem anderen Produkt. Frage: kann "
        "sesam die Berichte auf Deutsch senden?"
    )
    assert _sev(text) == 4


# ----------------------------------------------------------------------------- review
# Over-triggering found in review of rounds 9-11; sentences of our own.


@pytest.mark.parametrize(
    "text",
    [
        # The backup jobs' nightly runs as rows, a restore only spoken of after them: no
        # restore was tried, so no restore fails nor older backups that do not help.
        "Our nightly backups fail:\nMonday: failed\nTuesday: failed\nWednesday: failed\n"
        "We do not have any other copy. The backup is all we would have for a restore.",
        "Die Sicherungen laufen mit Fehler:\nMontag: Fehler 1\nDienstag: Fehler 1\n"
        "Ein Restore war bisher nicht nötig.",
    ],
)
def test_backup_jobs_run_as_rows_are_no_restores_tried(text: str) -> None:
    assert _Facts("", text).tried_rows is None
    # The rules' own reading; the model of 76 corpora reads the English one as Major
    # (every nightly backup failing, P 0.62), which the corpora's labels would agree with.
    assert rules_severity("", text)[0] == 3
    assert _sev(text) in (2, 3)  # never Critical: no restore was tried


def test_a_version_is_no_date_of_a_backup_tried() -> None:
    text = (
        "Die Rücksicherung schlägt auf beiden Servern fehl:\n"
        "ERP01 mit sesam 5.1.0.4: Fehler\nERP02 mit sesam 4.4.3: gleicher Fehler\n"
    )
    assert _Facts("", text).tried_rows is None


@pytest.mark.parametrize(
    "text",
    [
        # What did not help is no workaround: "hat uns damit nicht geholfen".
        "Die Rücksicherung bricht ab, die älteren Sicherungen genauso. Der Neustart des "
        "Dienstes hat uns damit nicht geholfen. Die Produktion steht.",
        "Die Rücksicherung bricht ab, die älteren Sicherungen genauso. Das hat uns so nicht "
        "geholfen. Die Produktion steht.",
    ],
)
def test_what_did_not_help_is_no_workaround(text: str) -> None:
    assert _sev(text) == 1


@pytest.mark.parametrize(
    "text",
    [
        # The denial after the thing: "Workaround gibt es keinen", "haben wir keine".
        "Alle Linien stehen, Workaround gibt es keinen.",
        "Eine Umgehungslösung haben wir keine.",
        "Workaround gibt es nicht.",
    ],
)
def test_a_workaround_denied_after_it_is_none(text: str) -> None:
    assert _Facts("", text).workaround is None


@pytest.mark.parametrize(
    "text",
    [
        "We are at a standstill with the MES test system: the restore failed, the older "
        "backups failed the same way.",
        "Das MES-Test-System steht: der Restore scheitert, die älteren Sicherungen auch.",
        "The restore fails and the older backups too; go-live is planned for February.",
    ],
)
def test_a_test_system_in_more_words_is_no_critical(text: str) -> None:
    assert _Facts("", text).test
    assert _sev(text) != 1


def test_a_test_server_told_in_passing_is_no_test_system() -> None:
    text = (
        "Das Update hatten wir vorher auf dem Testserver ausprobiert. Heute steht die "
        "Produktion: der Restore bricht ab, die älteren Sicherungen ebenso."
    )
    assert _Facts("", text).test is None


def test_a_workaround_not_denied_is_one() -> None:
    assert _Facts("", "Einen Workaround gibt es: wir nutzen die Konsole.").workaround


@pytest.mark.parametrize(
    "text",
    [
        # Failing on every other machine as well is no single machine's problem.
        "Die Sicherung bricht ab. Auf allen anderen Clients funktioniert es ebenfalls nicht.",
        "The backup fails. On all other machines it doesn't work either, same error.",
    ],
)
def test_failing_on_all_other_machines_too_is_not_one_machine(text: str) -> None:
    assert _sev(text) == 3


@pytest.mark.parametrize(
    "text",
    [
        # Files that cannot be restored or opened are data lost (Major), no standstill.
        "Der Restore bricht ab, es kann keine der Dateien wiederhergestellt werden, auch "
        "nicht aus den älteren Sicherungen.",
        "The restore fails and the older backups give the same error; none of the 12 "
        "restored PDFs could be opened.",
        "Der Restore bricht ab, die älteren Sicherungen genauso, keine der 40 "
        "wiederhergestellten Dateien kann geöffnet werden.",
    ],
)
def test_files_that_cannot_be_opened_are_no_standstill(text: str) -> None:
    assert _sev(text) == 2


@pytest.mark.parametrize(
    "text",
    [
        # "in allen Fällen kommt es zu ...", "keine Benachrichtigung geht raus".
        "Die Sicherung von Client X bricht ab. In allen Fällen kommt es zu Fehler 5.",
        "Der Job bricht ab und keine Benachrichtigung geht raus.",
    ],
)
def test_every_case_and_a_notice_are_no_standstill(text: str) -> None:
    assert _sev(text) == 3


@pytest.mark.parametrize(
    "text",
    [
        # A service that listens on a port has not stopped.
        "Der Restore-Dienst hört auf Port 11301. Können wir ihn auf einen anderen Port legen?",
        # Asked whether a function must be given up is no function given up.
        "The backup of the Hyper-V VM fails with a snapshot error. Do I have to switch off "
        "the VM first?",
        "Der Backup-Job bricht mit Fehler ab. Müssen wir den Virenscanner deaktivieren?",
    ],
)
def test_a_port_listened_on_or_a_switch_off_asked_about_is_no_major(text: str) -> None:
    assert _sev(text) in (3, 4)


def test_production_data_backed_up_is_no_business_going_on() -> None:
    text = (
        "Der Restore bricht ab, die älteren Sicherungen genauso. Die Daten der Produktion "
        "sind gesichert, aber wir kommen nicht dran. Die Produktion steht."
    )
    assert _sev(text) == 1


@pytest.mark.parametrize(
    "text",
    [
        # Whichever machine restores it is no older backup tried.
        "The restore fails no matter which backup server I use as proxy. Production is down.",
        "Der Restore bricht ab, egal welchen Backup-Server ich nehme. Die Produktion steht.",
        "Die Rücksicherung bricht ab, egal welches Sicherungsziel ich wähle. Die Produktion steht.",
    ],
)
def test_whichever_server_restores_it_is_no_older_backup(text: str) -> None:
    assert _sev(text) == 2


def test_a_doubt_or_a_question_is_neither_going_on_nor_put_right() -> None:
    """From the review: "how long we can still work" is no business going on, and "got
    everything back?" asked is nothing put right."""
    critical = (
        "Der Restore bricht ab, die älteren Sicherungen genauso, eine andere Kopie gibt es "
        "nicht. Nobody knows how long we can still work."
    )
    assert _sev(critical) == 1
    assert _Facts("", "We got everything back? No.").recovered is None
    assert _Facts("", "Alles ist wieder da? Nein!").recovered is None


@pytest.mark.parametrize(
    "text",
    [
        # From the review (already so before this session): a restore that would be
        # impossible is none tried, so none failing, and no Critical.
        "Die nächtlichen Sicherungen schlagen fehl. Eine weitere Kopie haben wir nicht. Eine "
        "Rücksicherung wäre also unmöglich.",
        "Die Sicherung läuft seit Tagen nicht. Ein Restore wäre damit nicht möglich.",
        "All nightly backups fail. A restore of the server would be impossible.",
    ],
)
def test_a_restore_that_would_be_impossible_is_no_restore_failing(text: str) -> None:
    assert _Facts("", text).restore_fails is None
    assert _sev(text) != 1


def test_a_backup_that_does_not_run_is_a_failure() -> None:
    text = "Die Sicherung läuft seit Tagen nicht. Ein Restore wäre damit nicht möglich."
    # The rules read a failure (Minor); the learned model reads Major, as the samples
    # label nights of failing backups (004, 040).
    assert rules_severity("", text)[0] == 3
    assert _sev("Der Sicherungsjob lief gestern nicht, heute wieder. Woran liegt das?") == 3
    # Something else said of the run: no failure.
    assert (
        _sev("Der Job läuft nicht nur nachts, sondern auch tagsüber. Wie stelle ich das um?") == 4
    )


# ----------------------------------------------------------------------------- round 18
# From heldout36-41's blind misses (session 18, measured before these); our own sentences.


def test_windows_in_lower_case_is_an_operating_system() -> None:
    assert operating_systems("sesam 5.1.0.4 auf dem pc im büro (windows 10)") == ("windows 10",)
    assert operating_systems("server is windows server 2019") == ("windows server 2019",)
    assert "os_version" not in missing_info("unser sesam ist 5.1.0.4 auf windows 11 pro")


_MILL = (
    "Der Restore der MES-Datenbank bricht nach wenigen Minuten ab. Die Vollsicherungen "
    "vom 29.09., 28.09. und 27.09. enden mit demselben Fehler. Das MES ist seit der "
    "Inbetriebnahme im Frühjahr 2023 produktiv im Einsatz. Die Straße steht seit 04:30. "
)


def test_someone_at_the_fix_is_no_business_going_on() -> None:
    assert _sev(_MILL + "Wir arbeiten hier weiter an der Sache.") == 1
    # The business itself going on still is.
    assert _sev(_MILL + "Die Verwaltung arbeitet normal weiter.") != 1


def test_a_component_not_affected_is_not_the_business_unaffected() -> None:
    text = (
        "Die Rücksicherung der VM bricht ab. Mit den Sicherungen vom 19.11. und 18.11. kommt "
        "derselbe Fehler. Eine andere Kopie haben wir nicht.\n\nUmgebung:\n"
        "- SEP sesam Server 5.1.0.4 auf Windows Server 2022 "
        "(physischer Server, nicht betroffen)\n"
    )
    assert _sev(text) == 1
    assert _sev(text + "Der Verkauf ist nicht betroffen, er läuft über die Kassen.\n") != 1


@pytest.mark.parametrize(
    "text",
    [
        "Der Restore von Dienstag bricht jedes Mal ab. Die Sicherung vom Montagabend liess "
        "sich problemlos zurückholen. Es fehlt aber alles vom Dienstag, eine andere Kopie "
        "haben wir nicht.",
        "Der Restore bricht immer ab, andere Kopie haben wir nicht. Seit 07:00 läuft der "
        "Check-in in allen 9 Studios wieder und die Leute können trainieren.",
        "Restores from the backups of 7, 6, 5 and 4 December all fail. The backup of 29 "
        "November restores fine, so the share is usable again. We have no other copy.",
        "The restore fails and the older backups fail the same way. We have no other copy. "
        "The factory itself runs normally on the recipes already released.",
    ],
)
def test_an_older_backup_restored_or_the_work_going_again_is_no_critical(text: str) -> None:
    assert _sev(text) != 1


def test_a_job_running_again_into_errors_is_not_put_right() -> None:
    for text in (
        "Seit Montag läuft die Sicherung wieder nicht durch.",
        "Seit dem Update laufen die Jobs wieder in Fehler.",
    ):
        assert rules.RECOVERED.search(text) is None, text


@pytest.mark.parametrize(
    "text",
    [
        "Die neue Anlage ist noch in der Inbetriebnahme, der produktive Start ist für den 2. "
        "November geplant. Kein einziger Restore gelingt, die älteren Sicherungen auch nicht. "
        "Die Abnahme steht.",
        "Im Abnahmetest gelingt kein Restore, auch nicht aus älteren Sicherungen. Ohne "
        "Restore keine Abnahme, alles steht.",
        "Wir testen die Testversion 5.1.0.4. Der Restore bricht ab, die älteren Sicherungen "
        "auch. Nichts geht mehr.",
    ],
)
def test_commissioning_and_a_trial_version_are_test_systems(text: str) -> None:
    assert _Facts("", text).test
    assert rules_severity("", text)[0] not in (1, 2)


# ----------------------------------------------------------------------------- round 19
# From heldout42-47's blind misses (session 18, second round, measured before these).


def test_sentences_that_name_a_day_are_no_rows_of_backups_tried() -> None:
    text = (
        "Thank you for the help with the CMS restore last week.\n\n"
        "Since Tuesday night every backup to our Si3 store fails. Each job ends with:\n"
        "  2026-12-11 01:02:14 sbc: Error: Write to data store [SI3_MAIN] failed:\n"
        "  Si3 store is in read-only mode\n"
        "  STATUS=ERROR MSG=Backup of task [CMS-DB01_MSSQL] failed\n"
        "The store went read-only after a power cycle last week. The index check stops "
        "with the same reason.\n"
    )
    assert _Facts("", text).tried_rows is None
    assert _sev(text + "The Si3 store is our only backup target.") != 1


def test_older_states_of_a_backup_failing_too() -> None:
    text = (
        "Der Restore bricht ab. Mit den Ständen von Donnerstag und Mittwoch kommt derselbe Fehler."
    )
    assert _Facts("", text).older_fail


def test_a_form_row_saying_no_workaround_is_none() -> None:
    text = (
        # An HTML table's rows, as the mail's text part renders them.
        "Aktion Rücksicherung der Datenbank\n\nFehlermeldung Restore failed\n\n"
        "Ältere Sicherungen Vollsicherungen vom 05.12. und 04.12. probiert – überall derselbe "
        "Fehler\n\nAuswirkung Alle vier Abfülllinien stehen.\n\nWorkaround keiner\n\n"
    )
    assert _Facts("", text).workaround is None
    assert _sev(text) == 1


_HEAT = (
    "Der Restore der VM bricht jedes Mal ab. Mit der Sicherung vom 29.11. passiert genau "
    "dasselbe. Einen Ersatz für das Leitsystem gibt es nicht. "
)


def test_work_going_on_by_hand_is_the_business_going_on() -> None:
    for text in (
        _HEAT + "Die Wärmeversorgung läuft.",
        _HEAT + "Die Schichtmannschaft fährt die Kessel seit heute Nacht von Hand.",
        "The restore fails, so do the older tapes. We run the line manually for now.",
    ):
        assert _Facts("", text).continues, text
        assert _sev(text) != 1, text
    # Ruled out, not done: no way on.
    for text in (
        "Von Hand lässt sich die Anlage nicht fahren.",
        "The kilns cannot be run by hand.",
    ):
        assert _Facts("", text).continues is None, text


@pytest.mark.parametrize(
    "text",
    [
        "Walk-ins we can still do, but for booked clients we have no designs.",
        "Assembly keeps building from printed drawings.",
    ],
)
def test_more_ways_of_the_business_going_on(text: str) -> None:
    assert _Facts("", text).continues


def test_people_who_cannot_work_are_no_restore_failing() -> None:
    f = _Facts(
        "Restore of PDM vault far too slow - design team cannot work",
        "There is no error and the job does not abort, it is just extremely slow.",
    )
    assert f.restore_fails is None and f.slow_restore


def test_a_helpdesk_p1_in_plain_words_is_critical() -> None:
    text = (
        "The restore of POLICYDB fails within a few minutes. The restores from the full "
        "backups of 14/12 and 13/12 fail as well. We have no standby database and no export. "
        "From 08:00 our 600 staff and 1,400 brokers cannot do any business. There is no "
        "workaround."
    )
    f = _Facts("", text)
    assert f.halt and f.no_other_copy and f.no_alternative
    assert rules_severity("", text)[0] == 1


def test_no_job_running_at_that_moment_is_not_all_backups_failing() -> None:
    assert _Facts("", "Es ist dann niemand angemeldet, es läuft kein Job.").all_fail is None
    assert _Facts("", "Seit Montag läuft kein Job mehr durch.").all_fail
    assert _Facts("", "Damit ist seit acht Nächten keine einzige Sicherung gelaufen.").all_fail


def test_a_notification_announced_below_the_signature_is_the_writers() -> None:
    text = (
        "Die Sicherung endet jede Nacht mit Warnungen.\n\nEinstufung: Minor\n\n"
        "Auszug aus der Benachrichtigung von heute Nacht unten.\n\nUmgebung:\n"
        "- SEP sesam Server 5.1.0.4\n- FS01: Windows Server 2022\n- Band: Scalar i3\n\n"
        "Mit freundlichen Grüßen\nC. Wallner\nIT Betriebshöfe\nVerkehrsbetriebe\n"
        "Tel. 0316 555\n\n-----Ursprüngliche Nachricht-----\nVon: SEP sesam <s@x.example>\n"
        "Gesendet: Dienstag, 8. September 2026 05:12\nBetreff: WARNING\n\n"
        "  sbc-3112: Warning: 287 files skipped, 1934211 files saved\n"
    )
    assert "sbc-3112" in own_text(text)
    # Far above it, in a long mail, "siehe unten" announces nothing of the block.
    block = text[text.index("-----Ursprüngliche") :]
    far = "Bei Fragen bitte an Sie wenden (siehe unten).\n" + "Zeile.\n" * 14 + "\n" + block
    assert "sbc-3112" not in own_text(far)


# What the two rounds' missing-information fixes read: (field, text, named).
_NAMED = [
    ("classification", "Art: Störung (nicht dringend). Der Bericht zeigt nichts an.", True),
    ("classification", "Art der Meldung: Störung\n\nDie Sicherung ist sehr langsam.", True),
    ("classification", "Störung: Wochenbericht zeigt alle Aufträge als unbekannt", True),
    ("classification", "Anfrage: Testinstallation bricht ab", True),
    ("classification", "Hallo,\n\nwir melden folgende Störung (Kundennummer 300903):", True),
    ("classification", "Seit Montag gibt es eine Störung der Sicherung.", False),
    ("classification", "Störung der Sicherung seit Montag, bitte melden.", False),
    ("classification", "Wir hatten eine Anfrage vom Kunden, die Sicherung läuft aber.", False),
    ("hardware", "Nach einem Ausfall des Speichersystems ist das ERP nicht verfügbar.", False),
    (
        "hardware",
        "Booking DB lost after SAN crash overnight. Restore via sesam stops at 3%.",
        False,
    ),
    ("hardware", "Der Server ist ausgefallen, die Festplatten sind laut Techniker hinüber.", False),
    ("hardware", "The server is dead, the SSD with the database is broken.", False),
    ("hardware", "Unser zentrales Speichersystem (SAN) ist im Rechenzentrum ausgefallen.", False),
    ("hardware", "Pfarrbüro-Laufwerk gelöscht - Wiederherstellung bricht ab", False),
    ("hardware", "The transaction log on the L: drive keeps growing.", False),
    ("hardware", "Das Log-Laufwerk steht bei 83 %.", False),
    ("hardware", "Seit der Änderung am Filiallaufwerk schlägt die Sicherung fehl.", False),
    (
        "hardware",
        "Nach einem Ausfall des Speichersystems ... Gesichert wird auf eine Synology.",
        True,
    ),
    ("hardware", "Das LTO-8-Laufwerk meldet einen Fehler.", True),
    ("hardware", "Wir sichern auf ein USB-Laufwerk.", True),
    ("hardware", "The backups go to the Buffalo in the office.", True),
    ("hardware", "Backups go to the WD My Cloud in the boathouse.", True),
    ("hardware", "Si3 store on the Dell ME5024.", True),
    ("hardware", "target is the Si3 store on the R760xd2", True),
    ("hardware", "Backup target: Si3 store on the Lenovo ThinkSystem DE4000H (FC)", True),
    ("hardware", "Server: sesam 5.1.0.4 on Ubuntu 24.04, backups go to a TrueNAS Mini X+.", True),
    ("hardware", "The nightly backup of the student home drives finishes with warnings.", False),
    ("hardware", "Herr Bauer hat am Sonntag eine neue Festplatte eingebaut.", False),
    ("hardware", "We have no other backup: the SAN snapshots of that volume were removed.", False),
    ("hardware", "Ziel ist ein Si3-Dedup-Store auf einem Thomas-Krenn RI2212+", True),
    (
        "error_message",
        'Der Job steht danach einfach auf "abgebrochen", im Protokoll nichts Brauchbares.',
        False,
    ),
    (
        "error_message",
        'Im Bericht steht bei dem Rechner "fehlgeschlagen", sinngemäß eine Datei.',
        False,
    ),
    ("error_message", "The job just says 'failed' in the overview.", False),
    ("error_message", 'Es kommt die Meldung "Restore abgebrochen durch Fehler".', True),
    ("error_message", "The browser says 'connection refused' and then comes back.", True),
    (
        "error_message",
        "Nach einer Stunde kommt diese Meldung (abgeschrieben):\n\nZeitüberschreitung beim Lesen vom Band – Medium nicht bereit (Laufwerk 1)\n",
        True,
    ),
    (
        "error_message",
        "Da kommt aber jedes Mal:\n\n  Sicherung beschädigt - Prüfsumme falsch\n",
        True,
    ),
    (
        "error_message",
        "The restore is still running.\n\n  2026-09-14 10:02:11 sbc-restore: Info: 1512330 files restored, throughput 2.6 MB/s\n",
        True,
    ),
    (
        "classification",
        "Ich bitte Sie, die Angelegenheit mit höchster Priorität zu behandeln.",
        True,
    ),
    ("classification", "Vorgangspriorität: 2 (hoch)", True),
    (
        "action",
        "Four times this week the sesam server service stopped by itself. I start it again and the nightly backups complete.",
        False,
    ),
    (
        "action",
        "Die Oberfläche stürzt ab, ohne dass jemand etwas macht. Den Dienst kann ich neu starten, die Sicherungen laufen normal.",
        False,
    ),
    (
        "action",
        "The GUI crashes by itself every afternoon; then I restore the window from the taskbar.",
        False,
    ),
    (
        "action",
        "Der Dienst beendet sich nachts von selbst. Damit ist seit acht Nächten keine einzige Sicherung gelaufen.",
        True,
    ),
    (
        "action",
        "Kann SEP sesam solche Datenmengen sinnvoll sichern und zehn Jahre aufbewahren?",
        False,
    ),
    ("action", "Der Vorstand möchte im neuen Jahr die beiden Notebooks sichern lassen.", False),
    ("action", "Wie wird lizenziert? Gesichert werden aber nur Server.", False),
    ("action", "Can our assistants restore files themselves?", True),
    # Round 21 (heldout64-67).
    (
        "hardware",
        "Unser Server ist abgestürzt, festplatte defekt. Rücksicherung geht nicht.",
        False,
    ),
    (
        "hardware",
        "Die Festplatte ist laut Dienstleister hin. Die Wiederherstellung bricht ab.",
        False,
    ),
    ("hardware", "Two nodes came back with dead boot SSDs. Every restore fails.", False),
    ("hardware", "SKY-CAM01, the CAM server that drives the plotters, is gone.", False),
    ("hardware", "Sicherungsziel: S3-Objektspeicher (Cloudian-HyperStore-Appliance)", True),
    ("error_message", "sm_notify log: smtp: 530 5.7.0 Must issue a STARTTLS command first", True),
    (
        "error_message",
        "die sicherung bricht jede nacht ab:\nData store [USB_DS] is full (free 0 B)\nobwohl",
        True,
    ),
    ("error_message", "Die Sicherung bricht jede Nacht ab:\nIch habe sie neu gestartet.", False),
    ("action", "Can SEP sesam back up macOS workstations? Nothing is installed yet.", False),
    # Rounds 22 and 23 (heldout68-75).
    ("hardware", "Heute Nacht ist in unserem ERP-Server eine Festplatte ausgefallen.", False),
    ("hardware", "Welche Rechte (Festplattenvollzugriff?) muss ich geben?", False),
    (
        "hardware",
        "This morning the controller of our SAN failed and took the database volume with "
        "it. The SAN has been repaired by the vendor, but the restore fails.",
        False,
    ),
    (
        "hardware",
        "This morning the controller of our SAN failed. The SAN has been repaired by the "
        "vendor, but the restore fails. Backups go to an LTO-8 library.",
        True,
    ),
    (
        "action",
        "We are looking for a new backup software, because our actual solution is not "
        "supported anymore from next year. Which licence do we need?",
        False,
    ),
    (
        "action",
        "We are comparing backup\nproducts for next year's budget. Does it support WORM?",
        False,
    ),
    (
        "action",
        "We have no SEP installation yet. Is the Community Edition allowed for a registered "
        "charity?",
        False,
    ),
    # A reviewer's fresh mails (2026-12-07, seventeenth session).
    (
        "os_version",
        "Environment: SLES for SAP 15 SP4, SEP sesam client and server 5.1.0.4.",
        True,
    ),
    (
        "os_version",
        "SUSE Linux Enterprise Server for SAP Applications 15 SP5, sesam 5.1.0.4",
        True,
    ),
    ("os_version", "RHEL for SAP, SEP sesam 5.1.0.4", True),
    ("action", "none of our VM backups have run since tuesday.", True),
    ("action", "seit drei Nächten laufen die Sicherungen vom Fileserver nicht durch.", True),
    (
        "action",
        "wie lege ich einen zweiten Datenspeicher auf unserer QNAP an? Ich habe es über "
        "den Assistenten versucht.",
        True,
    ),
    ("action", "Wie stell ich die Aufbewahrungszeit auf 30 Tage um?", True),
    ("action", "Wie lange dauert das noch?", False),
    ("classification", "eine Navigationsfrage: Wo finde ich die Liste?", True),
    ("classification", "Lizenzfrage zu unseren Clients", True),
    ("classification", "Die Statusabfrage im Dashboard ist leer.", False),
    (
        "error_message",
        'Beim Zurückspielen der Sicherung kommt "Medium nicht lesbar" und dann bricht es ab.',
        True,
    ),
    ("error_message", 'Danach kommt "Sicherung erfolgreich beendet" im Protokoll.', False),
    (
        "error_message",
        'Beim Zurückspielen kommt nach ein paar Minuten "Medium nicht lesbar".',
        True,
    ),
    ("action", "Die Sicherungen laufen seit Montag nich durch.", True),
]


@pytest.mark.parametrize(("field", "text", "named"), _NAMED)
def test_what_names_an_item_of_missing_information(field: str, text: str, named: bool) -> None:
    assert (field not in missing_info(text)) is named


# ----------------------------------------------------------------------------- round 20
# From heldout48-53's blind misses (session 18, third round, measured before these).


def test_a_clinics_own_lab_is_production_a_partners_lab_a_test_system() -> None:
    clinic = (
        "At 01:30 the storage under our lab server LAB-SQL01 failed and the database is gone. "
        "The restore fails every time. Tried the fulls of Tue, Mon and Wed: same error. "
        "There is no other copy of the database."
    )
    assert _Facts("", clinic).test is None
    assert _sev(clinic) == 1
    partner = "We are an SEP partner with NFR licences. The restore in our lab fails."
    assert _Facts("", partner).test == "our lab"


def test_the_machines_running_again_is_not_the_business_put_right() -> None:
    text = "Priorität: normal – ist wohl nicht kritisch, unsere Server laufen ja alle wieder."
    assert _Facts("", text).recovered is None


@pytest.mark.parametrize(
    "text",
    [
        "An den Flügeln wird nur noch von Hand weitergearbeitet.",
        "Die Werkstatt läuft mit vielleicht der halben Leistung.",
        "Die übrigen Fachverfahren und der Dienstbetrieb laufen.",
        "The meeting goes ahead regardless: cash and paper wristbands. But we can run.",
    ],
)
def test_the_business_going_on_round_20(text: str) -> None:
    assert _Facts("", text).continues


def test_the_business_running_until_today_is_not_going_on() -> None:
    assert _Facts("", "Der Betrieb läuft seither normal, heute steht die Bahn.").continues is None


def test_people_who_cannot_work_until_the_restore_ends_are_no_restore_failing() -> None:
    text = (
        "Die Rücksicherung läuft seit gestern mit 38 MB/s. Die 28 Mitarbeiter können bis zum "
        "Ende der Rücksicherung nicht mit ihren Daten arbeiten."
    )
    assert _Facts("", text).restore_fails is None


def test_a_team_without_its_data_while_the_business_is_unaffected_is_no_critical() -> None:
    text = (
        "The restore of the radar archive fails at 60 %. Forecasting is not affected, but "
        "the climate services team cannot produce the monthly reports. There is no other copy "
        "of the archive."
    )
    assert _sev(text) == 2


def test_every_restore_point_failing_with_nothing_else_and_the_office_shut_is_critical() -> None:
    text = (
        "Every restore Conor has tried from sesam fails - Saturday night's, Friday night's and "
        "last Sunday's. The offsite copy has not worked for weeks, so there is nothing else to "
        "restore from. The office is effectively shut until this is back."
    )
    f = _Facts("", text)
    assert f.no_other_copy and f.halt
    assert rules_severity("", text)[0] == 1


@pytest.mark.parametrize("text", ["Impact: low - it is the reporting that is wrong.", "Sev. 2"])
def test_impact_and_sev_dot_are_classifications(text: str) -> None:
    assert "classification" not in missing_info(text)


# ----------------------------------------------------------------------------- round 21
# From heldout54-59's blind misses (session 18, fourth round, measured before these).


@pytest.mark.parametrize(
    "text",
    [
        "HV02 läuft inzwischen wieder, die Platten sind getauscht.",
        "Der Host läuft nach dem Tausch des Controllers wieder, aber der Datastore ist weg.",
    ],
)
def test_a_host_running_again_is_not_the_business_put_right(text: str) -> None:
    assert _Facts("", text).recovered is None


def test_a_restore_the_writer_stopped_is_no_restore_failing() -> None:
    text = (
        "Der Restore läuft, aber extrem langsam. Den Restore einmal abgebrochen und nur mit "
        "einem Teilbaum neu gestartet – gleiche Geschwindigkeit."
    )
    f = _Facts("", text)
    assert f.restore_fails is None and f.slow_restore


def test_no_error_message_before_a_colon_is_no_error_text() -> None:
    text = "Der Restore läuft ohne Fehlermeldung, aber extrem langsam: zwischen 6 und 9 MB/s."
    assert "error_message" in missing_info(text)
    assert "error_message" not in missing_info("Die Fehlermeldung im Log: Restore aborted.")


# ----------------------------------------------------------------------------- round 22
# From heldout60-63's blind misses (session 18, fifth round, measured before these).


@pytest.mark.parametrize(
    ("text", "given"),
    [
        ('Seitdem bekomme ich die tägliche Meldung "Sicherung erfolgreich" nicht mehr.', False),
        ('The backup ends with error, something like "access is denied" on some folder.', False),
        ('The backup ends with error "access is denied" on some folder.', True),
    ],
)
def test_a_success_message_or_one_only_recalled_is_no_error_text(text: str, given: bool) -> None:
    assert ("error_message" not in missing_info(text)) is given


def test_no_error_before_a_colon_is_no_error_text() -> None:
    text = "There is no error: the job ends with status SUCCESS, just six hours too late."
    assert "error_message" in missing_info(text)
    assert "error_message" not in missing_info("The job ends with error: media not found.")


# ----------------------------------------------------------------------------- round 21
# From heldout64-67's blind misses (session 19, measured before these).


def test_a_scheduled_run_that_never_started_is_a_failure() -> None:
    assert _Facts("", "Die Vollsicherung ist am Samstag nicht gestartet worden.").failure
    assert _Facts("", "The weekly full job did not run on Saturday.").failure
    assert _Facts("", "Den Restore habe ich noch nicht gestartet.").failure is None


def test_a_restore_failing_where_an_older_backup_restored_is_no_major() -> None:
    text = (
        "Der Restore-Job einer einzelnen Datei scheitert mit einem Prüfsummenfehler. Mit der "
        "Sicherung von Donnerstagnacht hat es geklappt. Es eilt also nicht."
    )
    assert _Facts("", text).older_restored
    assert _sev(text) == 3
    # Unless what is newer is lost: then data is no longer available (SPEC's Major).
    lost = text + " Aber sechs Tage Arbeit sind verloren."
    assert _Facts("", lost).data_gone == "sind verloren"
    assert _sev(lost) == 2
    assert _Facts("", "Nothing is lost. Es ist nichts verloren.").data_gone is None


def test_other_work_meanwhile_is_the_business_going_on() -> None:
    text = "The goldsmiths cannot continue the custom orders, they are doing repairs instead."
    assert _Facts("", text).continues == "are doing repairs instead"


def test_paragraphs_that_name_a_day_are_no_rows_of_backups_tried() -> None:
    text = (
        "1) Last Wednesday an electrician moved our server into a new cabinet in the back "
        "room. Since then every nightly backup fails.\n"
        "2) On Friday one of the goldsmiths deleted a folder by mistake. I tried to restore "
        "it from Thursday, it stops immediately with an error.\n"
    )
    assert _Facts("", text).tried_rows is None


# ----------------------------------------------------------------------------- round 22
# From heldout68-71's blind misses (session 19, second round, measured before these).


def test_an_older_full_backup_that_restores_lacking_newer_work() -> None:
    restored = "Die Vollsicherung vom Sonntag lässt sich zurücksichern."
    assert _Facts("", restored).older_restored
    assert (
        _Facts("", "Die Vollsicherung vom Sonntag lässt sich nicht zurücksichern.").recovered
        is None
    )
    lacking = restored[:-1] + ", ihr fehlt aber die gesamte Arbeit vom Dienstag."
    assert _Facts("", lacking).data_gone
    text = (
        "Der Point-in-Time-Restore der Datenbank schlägt fehl. "
        + lacking
        + " Zwölf Prüfer können an diesen drei Mandaten nicht weiterarbeiten. "
        "Eine andere Kopie gibt es nicht."
    )
    assert _sev(text) == 2


def test_a_servers_failure_beside_a_slow_restore_is_no_restore_failing() -> None:
    text = (
        "On Saturday we had a failure of the PDM server and we are restoring the vault "
        "archive since Monday. There is no error, the job is just running very slow."
    )
    assert _Facts("", text).restore_fails is None
    assert _Facts("", "The restore failed with a failure of the catalog.").restore_fails


@pytest.mark.parametrize(
    "text",
    [
        "Die neuen Kassetten werden nicht in den Medienpool übernommen.",
        "Slot [12]: no barcode label found, medium ignored",
        'Die Bibliothek zeigt für diese Slots "Label unreadable".',
        "The second drive is not recognised after the firmware update.",
    ],
)
def test_media_or_devices_not_taken_are_a_failure(text: str) -> None:
    assert _Facts("", text).failure


# ----------------------------------------------------------------------------- round 23
# From heldout72-75's blind misses (session 19, third round, measured before these).


def test_a_wrong_report_of_all_backups_failing_is_not_all_failing() -> None:
    text = (
        "The weekly summary report says that ALL 46 backup jobs of the last week FAILED. "
        "When I check the jobs one by one in the GUI, every single one of them is green. "
        "So it seems the report is wrong, not the backups."
    )
    assert _Facts("", text).all_fail is None
    assert _Facts("", "ALL 46 backup jobs of the last week FAILED.").all_fail


def test_run_by_hand_it_works_is_a_workaround() -> None:
    text = "If she starts the backup by hand over VPN it also works, it only fails at night."
    assert _Facts("", text).workaround == "by hand over VPN it also works"


def test_a_setting_asked_for_in_german_is_a_question_on_use() -> None:
    text = "Kann man diese Office-Sperrdateien irgendwie ausschließen?"
    assert _Facts("", text).how_to


def test_a_negation_a_few_words_behind() -> None:
    text = "Einen Workaround (Handbetrieb) gibt es bei unseren Linien nicht."
    assert _Facts("", text).workaround is None


def test_a_production_that_should_run_is_not_going_on() -> None:
    assert _Facts("", "Ab Sonntag sollte die Ostersaison-Produktion laufen.").continues is None
    assert _Facts("", "Die Produktion läuft, nur der Bericht fehlt.").continues


def test_an_older_backup_restored_successfully_and_work_going_again() -> None:
    text = (
        "We restored the backup of Friday 6 March successfully and the field teams can "
        "record again since Tuesday morning."
    )
    facts = _Facts("", text)
    assert facts.older_restored
    assert facts.recovered


# ----------------------------------------------------------------------------- round 24
# From heldout76-77's blind misses (session 19, fourth round, measured before these).


def test_the_writer_alone_affected_and_work_by_hand_meanwhile() -> None:
    assert _Facts("", "Es betrifft nur mich. Trotzdem wüsste ich gern, warum.").single_user
    text = "We could not restore it and had to rebuild the routes by hand."
    assert _Facts("", text).continues == "had to rebuild the routes by hand"


# The two patterns as first written, lookbehinds first: the faster forms must match the
# very same places.
_SENTENCE_END_AS_WRITTEN = re.compile(
    r"(?<=[.!?])(?<!\d\.)\s+(?=[A-ZÄÖÜ])|(?<=\d\.)\s+(?=[A-ZÄÖÜ])"
    r"(?!(?:Januar|Februar|März|April|Mai|Juni|Juli|August|September|Oktober|November|Dezember)\b)"
)
_QUOTED_AS_WRITTEN = re.compile(r"[\"“„»][^\"“”„«»\n]{1,200}[\"”“«]|(?<!\w)'[^'\n]{1,200}'(?!\w)")
_PIECES = st.sampled_from(
    [
        " ",
        "  ",
        "\n",
        "\t",
        ".",
        "!",
        "?",
        "'",
        '"',
        "“",
        "”",
        "„",
        "»",
        "«",
        "3",
        "12.",
        "a",
        "Wort",
        "Der",
        "Änderung",
        "November",
        "Mai",
        "it's",
        "x'",
        "'y",
        "Ende. ",
        "Nr. 4 ",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=30).map("".join))
@example("Am 12. November lief es. Am 3. Mai nicht! Nr. 4 Der Job.")
@example("it's 'a quote' and x'y' 'z'")
@example(". Der")
@example("' x'")
def test_sentence_ends_and_quotes_are_where_the_patterns_as_written_find_them(text: str) -> None:
    for fast, written in ((_SENTENCE_END, _SENTENCE_END_AS_WRITTEN), (_QUOTED, _QUOTED_AS_WRITTEN)):
        assert [m.span() for m in fast.finditer(text)] == [m.span() for m in written.finditer(text)]
        assert fast.split(text) == written.split(text)


def test_a_paragraph_on_one_line_quoting_an_error_keeps_its_language() -> None:
    """Many clients send a paragraph as one line; one quoting "...: Error: ..." was dropped
    whole as a log line, and the German mail was answered in English (review finding)."""
    text = (
        'Hallo, seit heute kommen keine Benachrichtigungen mehr, im Log steht "sbc-5001: '
        'Error: SMTP connection refused" beim Versand der Job-Benachrichtigung. Können Sie '
        "uns bitte helfen? SEP sesam 5.1.0.4 auf Windows Server 2022, Bandbibliothek MSL2024."
    )
    assert language(text) == "de"
    assert (
        language("2026-11-02 10:00 sbc: Error: the job and the drive and the tape\nDanke") == "de"
    )


# ----------------------------------------------------------------------------- review rev7
# A black-box review's fresh mails (session 21): phrasings of SPEC's facts no rule knew.


@pytest.mark.parametrize(
    "text",
    [
        "Our booking system is dead. Restores from every recovery point fail. We have nothing "
        "else. Nobody can work.",
        "Restores from every recovery point we have end with an access denied error. We have "
        "nothing else - no replica, no snapshots. Vessels cannot be loaded until it is back.",
        "Der Restore des ERP ist gescheitert, ältere Sicherungen auch. Sonst haben wir nichts. "
        "Niemand kann arbeiten.",
        "Die Rücksicherung der Datenbank bricht ab, alle Wiederherstellungspunkte enden mit "
        "Zugriff verweigert. Die Produktion steht.",
    ],
)
def test_every_recovery_point_failing_and_nothing_else_is_critical(text: str) -> None:
    assert _sev(text, "Restore") == 1


@pytest.mark.parametrize(
    ("text", "copy"),
    [
        ("Sonst haben wir nichts.", True),
        ("We have nothing else - no replica, no snapshots.", True),
        ("There are no snapshots, no replicas.", True),
        ("Sonst haben wir nichts geändert.", False),
        ("We have nothing else to add.", False),
        ("We have no snapshots of the VM configured yet.", False),
    ],
)
def test_nothing_else_said_where_a_copy_would_be(text: str, copy: bool) -> None:
    assert bool(_Facts("", text).no_other_copy) is copy


def test_older_backups_that_fail_too_in_two_words() -> None:
    assert _Facts("", "Der Restore ist gescheitert, ältere Sicherungen auch.").older_fail
    assert _Facts("", "The restore fails, older backups too.").older_fail
    assert _Facts("", "Wir haben ältere Sicherungen auch auf Band.").older_fail is None


def test_data_that_exists_nowhere_else_outweighs_the_rest_working_normally() -> None:
    """SPEC's Major: important data no longer available. The rest of the office working
    normally does not make it Minor; nor is it yet nothing left to restore from."""
    text = (
        "These mails are only in the backup. The single-item restore always stops with an "
        "error. We do not have the mails anywhere else, and the audit can not be done "
        "without them. The rest of the office works normally."
    )
    assert _Facts("", text).nowhere_else
    assert rules_severity("Restore", text)[0] == 2
    assert _Facts("", "Die Buchungen haben wir nirgends sonst.").no_other_copy is None


def test_none_of_our_backups_with_more_words_between_all_fail_and_name_the_action() -> None:
    text = "none of our own prod VM backups have run since tuesday. we have no other backup."
    u = understand("backups", text)
    assert u.severity == 2 and "action" not in u.missing_info


def test_all_backups_failing_with_a_bracketed_aside() -> None:
    text = (
        "seit Montag schlagen alle Sicherungen unseres SQL-Servers (Warenwirtschaft und "
        "Kassendaten aller 6 Filialen) fehl. Eine andere Sicherung haben wir nicht."
    )
    f = _Facts("SQL-Sicherung", text)
    assert f.all_fail and f.no_other_copy == "andere Sicherung haben wir nicht"
    assert _sev(text, "SQL-Sicherung") == 2
    assert _Facts("", "Andere Sicherungen haben wir nicht geprüft.").no_other_copy is None


def test_backups_that_do_not_run_through_are_a_failure_of_the_backup() -> None:
    text = "seit drei Nächten laufen die Sicherungen vom Fileserver nicht durch."
    u = understand("Sicherung", text)
    assert u.severity == 3 and "action" not in u.missing_info


def test_a_disclaimer_or_a_stamped_log_does_not_decide_the_language() -> None:
    """Review findings: an English request under a German company disclaimer (after
    Outlook's separator line, the closing a bare "Thanks") was answered in German; a
    German one with five pasted, time-stamped English log lines in English."""
    disclaimer = (
        "Diese E-Mail enthält vertrauliche und/oder rechtlich geschützte Informationen. Wenn"
        " Sie nicht der richtige Adressat sind, informieren Sie bitte sofort den Absender und"
        " vernichten Sie diese Mail. Das unerlaubte Kopieren ist nicht gestattet."
    )
    english = "Hi,\nthe backup of our SQL server fails since the update. What can we do?\n"
    assert language(f"{english}Thanks\n\n{'_' * 32}\n{disclaimer}") == "en"
    assert language(f"{english}\n{'_' * 32}\n{disclaimer}") == "en"
    log = (
        "2026-11-09 22:00:01 The backup operation for the database was terminated because"
        " the connection to the server was lost and could not be restored in time.\n"
    )
    assert language(f"Hallo,\nSQL Sicherung geht nicht:\n{log * 5}Danke") == "de"
    assert (
        language(
            f"Hallo,\nSQL Sicherung geht nicht:\n{log.replace('2026-11-09', '09.11.2026') * 5}"
        )
        == "de"
    )
    # The writer's own words still decide: English with a German thanks stays English.
    assert language(f"{english}Our tape library is an HPE MSL 2024.\nDanke\n") == "en"


@pytest.mark.parametrize(
    "text",
    [
        "die Sicherung, die seit Montag abbricht",
        "wir haben das Problem, dass die Sicherung seit Montag jede Nacht fehlschlägt",
        "die Sicherung hängt",
        "die Vollsicherung bleibt seit zwei Nächten bei 0 % hängen",
        "der Bandwechsler ist kaputt",
        "das Laufwerk ist defekt",
        "der Autoloader streikt",
        "the backup is broken",
        "backup stuck",
        "the restore job is hanging",
        "the GUI freezes",
        "we have problem with backup of one server",
    ],
)
def test_everyday_words_for_a_failure_are_a_failure(text: str) -> None:
    """Review finding: these were read as no failure at all, so the mail was Cosmetic."""
    assert rules.FAILURE.search(text)
    assert _sev(text) == 3


@pytest.mark.parametrize(
    "text", ["Die Library hängt am SAN.", "Das hängt davon ab, wie viele Bänder es sind."]
)
def test_what_hangs_on_something_or_depends_on_it_is_no_failure(text: str) -> None:
    assert not rules.FAILURE.search(text)


@pytest.mark.parametrize(
    "text",
    [
        "Es geht um die Sicherung eines Entwicklungsrechners (dev-07), die seit Montag mit\n\n"
        "  sbc-1208: Error: Client dev-07 not reachable\n\nabbricht. Alle anderen laufen.",
        "we have problem with backup of one server from twenty.",
        "backup broken, call me",
    ],
)
def test_the_action_in_a_relative_clause_around_a_log_or_with_a_problem_word(text: str) -> None:
    """Review finding: the backup was named, the failure too, but the action was missing."""
    assert has_action(text)


@pytest.mark.parametrize(
    "text",
    [
        "this is not critical, just a question",
        "Nicht kritisch, nur zur Info.",
        "It is not an emergency.",
        "Kein kritischer Fehler, aber lästig.",
        "Es ist kein Notfall.",
    ],
)
def test_a_denied_claim_is_no_claim(text: str) -> None:
    """Review finding: "this is not critical" was recorded as a claim of Critical, and the
    team notice said "customer stated: 1"."""
    assert stated_severity(text) is None
    assert stated_severity(f"{text} Aber dringend!") == 2


def test_a_denied_claim_still_classifies_the_request() -> None:
    # samples/README: naming a severity class counts, even a wrong one.
    assert "classification" not in missing_info("Nicht kritisch, nur zur Info.")


@pytest.mark.parametrize(
    "text",
    [
        "Die Rücksicherung funktioniert, dauert aber ewig: 9 Stunden statt früher 1,5 Stunden."
        " Es ist kein Notfall, das Tagesgeschäft läuft ganz normal.",
        "The restore works but is very slow: 9 hours instead of 1.5 hours before. It is not"
        " an emergency, our daily business runs normally.",
    ],
)
def test_a_slow_restore_while_the_business_runs_normally_is_minor(text: str) -> None:
    """Review finding: Major ("a restore too slow to get the data back") though the writer
    says in SPEC's words for Minor that the business runs normally."""
    assert _sev(text, "Restore slow") == 3


@pytest.mark.parametrize(
    "text, named",
    [
        ("die Sicherungen im Si3 store 90 Tage aufheben", True),
        ("Ziel ist der Si3-Store auf dem Backupserver", True),
        ("backups go to a SEP Si3 Deduplication Store", True),
        ("Sicherungsziel: Si3 Dedup-Store", True),
        ("a copy goes to Wasabi S3", True),
        ("sbc-1402: Error: Si3 read error on data store [SI3_GFD]", False),
        ("Is the Si3 deduplication option part of our licence?", False),
    ],
)
def test_the_si3_dedup_store_is_backup_hardware(text: str, named: bool) -> None:
    """Review finding: samples/README counts "dedup store hardware", SEP's own was not."""
    assert has_hardware(text) is named


@pytest.mark.parametrize(
    "text, versions",
    [
        ("Our SEP Sesam is 5.1 Beefalo V2", ("5.1",)),
        ("SEP 5.1 Beefalo V2", ("5.1",)),
        ("sesam version is 5.1", ("5.1",)),
        ("sesam-Version: 5.1", ("5.1",)),
        ("SEP sesam Beefalo V2", ()),
        ("SEP sesam Jaglion V2", ()),
    ],
)
def test_sesam_versions_written_in_other_ways(text: str, versions: tuple[str, ...]) -> None:
    """Review finding: only "Sesam 5.1 Beefalo V2" was read. A release name alone gives the
    request its version, but no number for the older-version check."""
    assert sesam_versions(text) == versions
    assert "os_version" not in missing_info(f"{text}, Windows Server 2019")


@pytest.mark.parametrize(
    "text",
    [
        "| Art          | Störung     |",
        "| Priority | high |",
        "| Severity | 2 |",
        "| Request type | Incident |",
        "Art der Anfrage\tStörung",
    ],
)
def test_a_classification_in_a_table_cell(text: str) -> None:
    """Review finding: facts in a table (Markdown, tab-separated, or HTML) did not count."""
    assert "classification" not in missing_info(f"Hallo,\n\n{text}\n")


def test_a_classification_in_an_html_table_row() -> None:
    # html_to_text joins a row's cells with a space.
    html = "<table><tr><td>Art der Anfrage</td><td>Störung</td></tr></table>"
    assert "classification" not in missing_info(html_to_text(html))
    assert "classification" in missing_info("Typ der Datei ist unklar.\nArt und Weise egal.")


@pytest.mark.parametrize(
    "text, given",
    [
        ("job fails with 'Drive busy'", True),
        ('The job ends with "Medium not present"', True),
        ("LTO-8 Laufwerk: Sicherungsjob bricht ab mit 'Drive busy'", True),
        ('the job ends with "successful"', False),
        ("we end with 'thank you all'", False),
    ],
)
def test_a_quoted_text_a_run_ends_or_fails_with_is_error_text(text: str, given: bool) -> None:
    """Review finding: a message in single quotes after "bricht ab mit" in the subject, or
    one without an error word in double quotes, was no error text."""
    assert has_error_text(text) is given


def test_a_standstill_with_where_it_stands_between_its_words_is_critical() -> None:
    """Review finding (L): "bei Müller" between "steht die Produktion" and "still" made
    an obvious Critical Major."""
    text = (
        "inzwischen steht die Produktion bei Müller komplett still. Der Restore des"
        " ERP-Servers schlägt fehl, auch ältere Sicherungen lassen sich nicht zurückspielen."
        " Ohne Restore ist keine Geschäftstätigkeit möglich."
    )
    assert _sev(text) == 1
    assert not rules.HALT.search("Leider steht der Job seit drei Stunden still.")
