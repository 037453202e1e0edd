"""A labelled corpus of patron messages for refdesk.redaction, and its score (used by
tests/unit/test_redaction_corpus.py and `make bench`).

Each sample is a message as patrons type them (SMS and web chat: shorthand, typos, invisible
characters pasted from phones and PDFs) and its identifiers: each one's exact text, in the order
they appear, and its kind. Kinds in MASKS must be masked, with that mask; every other kind is a
legitimate identifier that staff need to see as typed. All data is fictitious: 555-01xx and
(555) numbers, Ofcom's drama numbers (07700 900xxx, 020 7946 0xxx, 0161 496 0xxx), ACMA's
(0491 570 xxx, (02) 5550 xxxx), ARCEP's (01 99 00 xx xx, 06 39 98 xx xx), example.org-style
e-mail addresses, made-up library cards and the card networks' test numbers.

A message is scored from what staff are shown (not from the redactor's internals), so any
version of `redact` can be scored: the masks in the shown text are placed back on the original."""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from refdesk import redaction

PHONE, EMAIL, LIBRARY_CARD, PAYMENT_CARD = "phone number", "e-mail address", "library card", "payment card"
ISBN, OCLC, LCCN, DOI, ISSN = "ISBN", "OCLC number", "LCCN", "DOI", "ISSN"
ILL, ITEM_BARCODE, MMS_ID, CALL_NUMBER = "ILL or request number", "item barcode", "MMS id", "call number"
DATE_TIME, PRICE, PLACE_OR_COURSE = "date, time or year", "price", "room or course code"
MASKS = {PHONE: redaction.PHONE, EMAIL: redaction.EMAIL, LIBRARY_CARD: redaction.LIBRARY_CARD,
         PAYMENT_CARD: redaction.CARD}
MASKED = re.compile("|".join(map(re.escape, MASKS.values())))  # a mask in what staff are shown
LIBRARY_CARD_PATTERN = r"\d{14}"
ZWSP, NBSP, NNBSP, SOFT_HYPHEN = "\u200b", "\u00a0", "\u202f", "\u00ad"

# A US library (the default region).
US_LIBRARY: list[tuple[str, dict[str, str]]] = [
    # phone numbers, US and Canada, as patrons type them
    ("hi can u call me back at 312-555-0142 abt my hold", {"312-555-0142": PHONE}),
    ("My # is (773) 555-0187", {"(773) 555-0187": PHONE}),
    ("+1 (415) 555-0110 pls text when its ready", {"+1 (415) 555-0110": PHONE}),
    ("1 800 555 0199 was busy all morning", {"1 800 555 0199": PHONE}),
    ("my cell:2125550148", {"2125550148": PHONE}),
    ("call me 555 0134 after 5", {"555 0134": PHONE}),
    ("Reach me at 212.555.0173 after 6pm", {"212.555.0173": PHONE}),
    (f"my number is 312{NBSP}555{NBSP}0142", {f"312{NBSP}555{NBSP}0142": PHONE}),
    (f"cell 312{ZWSP}555{ZWSP}0199 thx", {f"312{ZWSP}555{ZWSP}0199": PHONE}),
    ("call 312\u2013555\u20130142 pls", {"312\u2013555\u20130142": PHONE}),
    ("ph# 415 555 0110 ext. 23", {"415 555 0110": PHONE}),
    ("my cell is 555 123 2019", {"555 123 2019": PHONE}),
    ("I'm in Toronto, 416-555-0199 is my cell", {"416-555-0199": PHONE}),
    ("+1-604-555-0142", {"+1-604-555-0142": PHONE}),
    ("work line 1 (617) 555 0123 x4", {"1 (617) 555 0123": PHONE}),
    ("txt 5555550123", {"5555550123": PHONE}),
    ("hey its jordan 773 555 0187 did my book come in", {"773 555 0187": PHONE}),
    ("555-0100 is my home #", {"555-0100": PHONE}),
    ("pls call my mom instead: (312)555-0171", {"(312)555-0171": PHONE}),
    ("you can reach me at +1.312.555.0166", {"+1.312.555.0166": PHONE}),
    (f"cell{NBSP}(773){NBSP}555-0155", {f"(773){NBSP}555-0155": PHONE}),
    ("011 44 7700 900321 is my UK phone, im calling from the US", {"011 44 7700 900321": PHONE}),
    # phone numbers of other regions, international and national
    ("I'm visiting from the UK, my mobile is 07700 900123", {"07700 900123": PHONE}),
    ("0044 7700 900456 is my whatsapp", {"0044 7700 900456": PHONE}),
    ("+44 (0)7700 900789", {"+44 (0)7700 900789": PHONE}),
    ("ring 020 7946 0321 (my office) pls", {"020 7946 0321": PHONE}),
    ("+44 20 7946 0555", {"+44 20 7946 0555": PHONE}),
    ("0161 496 0123 - leave a msg", {"0161 496 0123": PHONE}),
    ("07700900654", {"07700900654": PHONE}),
    ("+447700900987 whatsapp only", {"+447700900987": PHONE}),
    (f"uk mobile 07700{NBSP}900{NBSP}111", {f"07700{NBSP}900{NBSP}111": PHONE}),
    ("my aussie mobile 0491 570 156", {"0491 570 156": PHONE}),
    ("+61 491 570 157", {"+61 491 570 157": PHONE}),
    ("home (02) 5550 1234 in Sydney", {"(02) 5550 1234": PHONE}),
    ("0061 491 570 158 is my number while I'm on exchange", {"0061 491 570 158": PHONE}),
    ("French number: +33 6 39 98 12 34", {"+33 6 39 98 12 34": PHONE}),
    ("appelez-moi au 01 99 00 12 34", {"01 99 00 12 34": PHONE}),
    ("0033 6 39 98 56 78", {"0033 6 39 98 56 78": PHONE}),
    ("06.39.98.45.67 is my cell in Lyon", {"06.39.98.45.67": PHONE}),
    ("call 07700-900-222 after 9", {"07700-900-222": PHONE}),
    # e-mail addresses, invisible characters included
    ("email me: jordan.lee@example.org", {"jordan.lee@example.org": EMAIL}),
    (f"my email is j.lee{ZWSP}@example.com", {f"j.lee{ZWSP}@example.com": EMAIL}),
    ("pat_smith+library@example.net", {"pat_smith+library@example.net": EMAIL}),
    ("JORDAN@EXAMPLE.ORG", {"JORDAN@EXAMPLE.ORG": EMAIL}),
    (f"sam{ZWSP}.rivera@student.example.org pls", {f"sam{ZWSP}.rivera@student.example.org": EMAIL}),
    ("reach me at alex-k@mail.example.com or 555-0188",
     {"alex-k@mail.example.com": EMAIL, "555-0188": PHONE}),
    ("my email jlee@example.org.", {"jlee@example.org": EMAIL}),
    ("taylor\u2060.m@example.com", {"taylor\u2060.m@example.com": EMAIL}),
    (f"<{ZWSP}kim.o@example.net{ZWSP}>", {"kim.o@example.net": EMAIL}),
    ("send the scan to r.okafor@uni.example thx", {"r.okafor@uni.example": EMAIL}),
    (f"dana{SOFT_HYPHEN}.w@example.org", {f"dana{SOFT_HYPHEN}.w@example.org": EMAIL}),
    # library cards: plain, in groups, with non-breaking and zero-width characters
    ("my card # is 21234000567890", {"21234000567890": LIBRARY_CARD}),
    ("library card 2 1234 00567 8901 wont scan", {"2 1234 00567 8901": LIBRARY_CARD}),
    ("card 21234-0056789-01 says blocked??", {"21234-0056789-01": LIBRARY_CARD}),
    (f"barcode: 2{NBSP}1234{NBSP}00567{NBSP}8901", {f"2{NBSP}1234{NBSP}00567{NBSP}8901": LIBRARY_CARD}),
    ("my barcode is 29876000123456", {"29876000123456": LIBRARY_CARD}),
    ("2.1234.00567.8901 is my card", {"2.1234.00567.8901": LIBRARY_CARD}),
    (f"card no 2123400{ZWSP}0567890", {f"2123400{ZWSP}0567890": LIBRARY_CARD}),
    ("library card number 21234 00056 7890, pin not working", {"21234 00056 7890": LIBRARY_CARD}),
    ("my card number is 2-1234-00567-8901", {"2-1234-00567-8901": LIBRARY_CARD}),
    (f"card{NNBSP}2 1234 00567 8901", {"2 1234 00567 8901": LIBRARY_CARD}),
    ("renew everything on 22222000333334 pls", {"22222000333334": LIBRARY_CARD}),
    ("i think my card is 21234005678901 or maybe 21234005678902", {"21234005678901": LIBRARY_CARD,
                                                                   "21234005678902": LIBRARY_CARD}),
    # payment cards
    ("can i pay my fine w/ 4111 1111 1111 1111", {"4111 1111 1111 1111": PAYMENT_CARD}),
    ("visa 4012-8888-8888-1881 exp 09/27", {"4012-8888-8888-1881": PAYMENT_CARD}),
    ("mc 5555 5555 5555 4444 thanks", {"5555 5555 5555 4444": PAYMENT_CARD}),
    ("amex 3782 822463 10005", {"3782 822463 10005": PAYMENT_CARD}),
    (f"4111{NBSP}1111{NBSP}1111{NBSP}1111", {f"4111{NBSP}1111{NBSP}1111{NBSP}1111": PAYMENT_CARD}),
    ("6011.1111.1111.1117", {"6011.1111.1111.1117": PAYMENT_CARD}),
    ("card 5105105105105100 for the $4.50 fee", {"5105105105105100": PAYMENT_CARD, "$4.50": PRICE}),
    ("3714 496353 98431 is my amex", {"3714 496353 98431": PAYMENT_CARD}),
    ("charge it to 4222222222222", {"4222222222222": PAYMENT_CARD}),
    (f"5555{NNBSP}5555{NNBSP}5555{NNBSP}4444", {f"5555{NNBSP}5555{NNBSP}5555{NNBSP}4444": PAYMENT_CARD}),
    ("jcb 3530-1113-3330-0000", {"3530-1113-3330-0000": PAYMENT_CARD}),
    (f"4012{ZWSP}8888{ZWSP}8888{ZWSP}1881", {f"4012{ZWSP}8888{ZWSP}8888{ZWSP}1881": PAYMENT_CARD}),
    ("diners 3056 930902 5904 ok?", {"3056 930902 5904": PAYMENT_CARD}),
    # ISBNs
    ("looking for ISBN 978-0-306-40615-7", {"978-0-306-40615-7": ISBN}),
    ("do u have 0-306-40615-2 in stock", {"0-306-40615-2": ISBN}),
    ("9780262033848 is the textbook for my class", {"9780262033848": ISBN}),
    ("isbn 0316041211 pls", {"0316041211": ISBN}),
    ("need 978 0 06 112008 4 for english", {"978 0 06 112008 4": ISBN}),
    ("ISBN-10: 155860832X", {"155860832X": ISBN}),
    ("isbn13 9781492045137 is it on reserve?", {"9781492045137": ISBN}),
    # OCLC numbers
    ("WorldCat says OCLC 44958527, can you borrow it?", {"OCLC 44958527": OCLC}),
    ("(OCoLC)ocm12345678", {"(OCoLC)ocm12345678": OCLC}),
    ("oclc # 1041234567", {"oclc # 1041234567": OCLC}),
    ("OCLC number 876543210 is the one i want", {"OCLC number 876543210": OCLC}),
    ("the record is ocn987654321", {"ocn987654321": OCLC}),
    ("OCLC: 1234567", {"OCLC: 1234567": OCLC}),
    ("oclc#1198765432", {"oclc#1198765432": OCLC}),
    ("can you ILL worldcat no. 1122334455?", {"worldcat no. 1122334455": OCLC}),
    # LCCNs
    ("LCCN 2001012345", {"LCCN 2001012345": LCCN}),
    ("LC control no. 85-15357", {"LC control no. 85-15357": LCCN}),
    ("lccn: 2019034567 for the ebook", {"lccn: 2019034567": LCCN}),
    ("LCCN n 79021164", {"LCCN n 79021164": LCCN}),
    # DOIs
    ("doi:10.1038/nature12373 - can i get the pdf", {"doi:10.1038/nature12373": DOI}),
    ("https://doi.org/10.1371/journal.pone.0123456", {"https://doi.org/10.1371/journal.pone.0123456": DOI}),
    ("article 10.1016/j.cell.2009.01.042 pls", {"10.1016/j.cell.2009.01.042": DOI}),
    ("DOI 10.1080/01621459.2017.1285773", {"DOI 10.1080/01621459.2017.1285773": DOI}),
    ("need this one (doi: 10.1177/0956797614524581).", {"doi: 10.1177/0956797614524581": DOI}),
    ("dx.doi.org/10.1002/9781118445112.stat06003", {"dx.doi.org/10.1002/9781118445112.stat06003": DOI}),
    ("10.1093/ajae/aaq063 and 10.2307/1913236", {"10.1093/ajae/aaq063": DOI, "10.2307/1913236": DOI}),
    ("can't open https://doi.org/10.1145/3313831.3376518 from home", {"https://doi.org/10.1145/3313831.3376518": DOI}),
    # ISSNs
    ("ISSN 0028-0836", {"ISSN 0028-0836": ISSN}),
    ("eISSN 1476-4687 do we have online access?", {"eISSN 1476-4687": ISSN}),
    ("journal issn: 1932-6203", {"issn: 1932-6203": ISSN}),
    ("ISSN 2049-3630 vol 5", {"ISSN 2049-3630": ISSN}),
    # interlibrary loan and request numbers
    ("ILL #1234567 still not here", {"ILL #1234567": ILL}),
    ("my ILL request 7654321 was cancelled?", {"ILL request 7654321": ILL}),
    ("ILLiad TN 2345678", {"ILLiad TN 2345678": ILL}),
    ("interlibrary loan number 8765432 status?", {"interlibrary loan number 8765432": ILL}),
    ("request #5550123 - any update", {"request #5550123": ILL}),
    ("request number 3141592", {"request number 3141592": ILL}),
    ("my ill request 2718281 came in??", {"ill request 2718281": ILL}),
    ("ILL 1357913", {"ILL 1357913": ILL}),
    ("transaction no. 2468024 in ILLiad", {"transaction no. 2468024": ILL}),
    ("TN# 9876543", {"TN# 9876543": ILL}),
    ("Request ID 1029384", {"Request ID 1029384": ILL}),
    # item barcodes
    ("item barcode 31234000567890", {"item barcode 31234000567890": ITEM_BARCODE}),
    ("the barcode on the book is 3 1234 00567 8901", {"barcode on the book is 3 1234 00567 8901": ITEM_BARCODE}),
    ("book's barcode 39876000123456 wont check out", {"book's barcode 39876000123456": ITEM_BARCODE}),
    ("item # 31234000567899 shows missing", {"item # 31234000567899": ITEM_BARCODE}),
    ("barcode of the dvd: 31234001122334", {"barcode of the dvd: 31234001122334": ITEM_BARCODE}),
    ("laptop barcode 30000012345678", {"laptop barcode 30000012345678": ITEM_BARCODE}),
    ("item barcode 3-1234-00567-8901", {"item barcode 3-1234-00567-8901": ITEM_BARCODE}),
    # Alma MMS ids
    ("MMS id 9976543210123451", {"MMS id 9976543210123451": MMS_ID}),
    ("Alma MMS ID 9912345678901239", {"Alma MMS ID 9912345678901239": MMS_ID}),
    ("mms id: 998877665544339 is the record", {"mms id: 998877665544339": MMS_ID}),
    ("Alma 991000234567809", {"Alma 991000234567809": MMS_ID}),
    ("MMSID 99123450000049", {"MMSID 99123450000049": MMS_ID}),
    # call numbers
    ("Is QA76.73 .P98 L83 2013 on the shelf?", {"QA76.73 .P98 L83 2013": CALL_NUMBER}),
    ("PS3552.R685 A6 1998", {"PS3552.R685 A6 1998": CALL_NUMBER}),
    ("it's at 005.133 ROS", {"005.133 ROS": CALL_NUMBER}),
    ("cookbooks 641.5973 SMI?", {"641.5973 SMI": CALL_NUMBER}),
    ("call number HV6432 .W75 2006", {"HV6432 .W75 2006": CALL_NUMBER}),
    ("call no. 813.54 MOR", {"813.54 MOR": CALL_NUMBER}),
    ("Dewey 973.9230922 where's that", {"973.9230922": CALL_NUMBER}),
    ("KF4558 15th .A2 2012 in the law section?", {"KF4558": CALL_NUMBER}),
    ("QA76.9.D3 S5637 2011", {"QA76.9.D3 S5637 2011": CALL_NUMBER}),
    ("BF723.C5 P53 1969 is checked out?", {"BF723.C5 P53 1969": CALL_NUMBER}),
    # dates, times, years, prices, rooms, course codes
    ("Is the library open on 2025-03-15?", {"2025-03-15": DATE_TIME}),
    ("due 3/15/2025 can i renew", {"3/15/2025": DATE_TIME}),
    ("can I come at 10:30 tomorrow", {"10:30": DATE_TIME}),
    ("open 9:00-17:00 on sat?", {"9:00": DATE_TIME, "17:00": DATE_TIME}),
    ("the 1984 edition pls", {"1984": DATE_TIME}),
    ("newspapers from 1990-2024 on microfilm?", {"1990-2024": DATE_TIME}),
    ("is the fine $12.50 or $1,200.00", {"$12.50": PRICE, "$1,200.00": PRICE}),
    ("study room B-204 booked 2-4pm?", {"B-204": PLACE_OR_COURSE}),
    ("reading list for HIST 210 and MATH-1010", {"HIST 210": PLACE_OR_COURSE, "MATH-1010": PLACE_OR_COURSE}),
    ("Room 3.12 at 2:15", {"2:15": DATE_TIME}),
    ("due back 03/05/25 i think", {"03/05/25": DATE_TIME}),
    ("I owe \u00a33.20 from last term", {"\u00a33.20": PRICE}),
    ("printing is $0.10 a page right", {"$0.10": PRICE}),
    ("ENGL 1010 reserves, due 12.05.2025", {"ENGL 1010": PLACE_OR_COURSE, "12.05.2025": DATE_TIME}),
    ("census records 1850-1880 for Cook County", {"1850-1880": DATE_TIME}),
    # several in one message
    ("hi! card 21234000567890, call me at (312) 555-0142, need ISBN 978-0-306-40615-7 by 3/15/2025",
     {"21234000567890": LIBRARY_CARD, "(312) 555-0142": PHONE, "978-0-306-40615-7": ISBN, "3/15/2025": DATE_TIME}),
    ("ILL #1234567 arrived? text 312-555-0199 or email a.b@example.org",
     {"ILL #1234567": ILL, "312-555-0199": PHONE, "a.b@example.org": EMAIL}),
    ("item barcode 31234000567890 is damaged, my card is 21234000567890",
     {"item barcode 31234000567890": ITEM_BARCODE, "21234000567890": LIBRARY_CARD}),
    ("pls get doi:10.1038/nature12373 for me, my email is kim@example.com",
     {"doi:10.1038/nature12373": DOI, "kim@example.com": EMAIL}),
    ("OCLC 44958527 via ILL? my uk mobile 07700 900444",
     {"OCLC 44958527": OCLC, "07700 900444": PHONE}),
    ("MMS id 9976543210123451 vs my card 2 1234 00567 8901",
     {"MMS id 9976543210123451": MMS_ID, "2 1234 00567 8901": LIBRARY_CARD}),
    ("fine is $15.00, pay with 4111 1111 1111 1111 exp 11/26? call 555-0123",
     {"$15.00": PRICE, "4111 1111 1111 1111": PAYMENT_CARD, "555-0123": PHONE}),
    ("ISSN 0028-0836, vol 512, 2014; send to r.lee@example.net",
     {"ISSN 0028-0836": ISSN, "r.lee@example.net": EMAIL}),
    ("QA76.73 .P98 L83 2013 - is it in? (773) 555-0155",
     {"QA76.73 .P98 L83 2013": CALL_NUMBER, "(773) 555-0155": PHONE}),
    ("LCCN 2001012345 / OCLC 123456789 / 555.123.4567",
     {"LCCN 2001012345": LCCN, "OCLC 123456789": OCLC, "555.123.4567": PHONE}),
    ("request #7654321 - reach me at +44 7700 900555",
     {"request #7654321": ILL, "+44 7700 900555": PHONE}),
    ("Alma 991000234567809 and ISBN 9780316041218, room 210 at 14:00",
     {"Alma 991000234567809": MMS_ID, "9780316041218": ISBN, "14:00": DATE_TIME}),
    ("my barcode 29876000123456 and the book's barcode 39876000123456",
     {"29876000123456": LIBRARY_CARD, "book's barcode 39876000123456": ITEM_BARCODE}),
    ("HIST 210 group: (555) 123-4567, room B-204",
     {"HIST 210": PLACE_OR_COURSE, "(555) 123-4567": PHONE, "B-204": PLACE_OR_COURSE}),
    ("ILLiad TN 2345678, pls email j.doe@example.org or call 0491 570 159",
     {"ILLiad TN 2345678": ILL, "j.doe@example.org": EMAIL, "0491 570 159": PHONE}),
    ("https://doi.org/10.1371/journal.pone.0123456 - from 2019, I'm at 212-555-0123",
     {"https://doi.org/10.1371/journal.pone.0123456": DOI, "2019": DATE_TIME, "212-555-0123": PHONE}),
    # more as patrons write them
    ("312/555-0142 is my cell", {"312/555-0142": PHONE}),
    ("tel:+13125550142", {"+13125550142": PHONE}),
    ("(cell: 312-555-0142) thx!!", {"312-555-0142": PHONE}),
    ("my cell 773-555-0187, home 773-555-0188", {"773-555-0187": PHONE, "773-555-0188": PHONE}),
    ("+1 (312) 555-0142 / +44 7700 900123", {"+1 (312) 555-0142": PHONE, "+44 7700 900123": PHONE}),
    ("312\u2011555\u20110142", {"312\u2011555\u20110142": PHONE}),
    ("312-555-0142x12", {"312-555-0142": PHONE}),
    ("kim@exa\u200dmple.org", {"kim@exa\u200dmple.org": EMAIL}),
    (f"kim.lee@example.org{ZWSP}thanks", {"kim.lee@example.org": EMAIL}),
    ("4111-1111-1111-1111.", {"4111-1111-1111-1111": PAYMENT_CARD}),
    ("my interlibrary loan (ILL) # is 1234567", {"ILL) # is 1234567": ILL}),
    ("ILL no.1234567", {"ILL no.1234567": ILL}),
    ("Interlibrary Loan request #1234567 pls check", {"Interlibrary Loan request #1234567": ILL}),
    ("my ILLiad number is 1234567", {"ILLiad number is 1234567": ILL}),
    ("OCLC number is 1041234567", {"OCLC number is 1041234567": OCLC}),
    ("https://www.worldcat.org/oclc/1041234567", {"oclc/1041234567": OCLC}),
    ("The LCCN is 2001-012345", {"LCCN is 2001-012345": LCCN}),
    ("doi 10.1000/182", {"doi 10.1000/182": DOI}),
    ("https://onlinelibrary.wiley.com/doi/full/10.1002/asi.24123", {"10.1002/asi.24123": DOI}),
    ("item barcode: 31234 00567 8901", {"item barcode: 31234 00567 8901": ITEM_BARCODE}),
    ("the barcode on the back of the book is 31234000567890",
     {"barcode on the back of the book is 31234000567890": ITEM_BARCODE}),
    ("the DVD barcode 31234001122334 won't scan", {"DVD barcode 31234001122334": ITEM_BARCODE}),
    ("MMS ID: 9912345678901239", {"MMS ID: 9912345678901239": MMS_ID}),
    ("Alma record 991000234567809", {"Alma record 991000234567809": MMS_ID}),
    ("https://search.example.org/permalink/01EX_INST/1abcd/alma991000234567809",
     {"alma991000234567809": MMS_ID}),
    ("call # PZ7.R79835 Har 1998", {"PZ7.R79835": CALL_NUMBER}),
    ("call number 362.1969792 JOH 2015", {"362.1969792 JOH": CALL_NUMBER}),
    ("can i come at 2:30pm on March 5, 2025", {"2:30": DATE_TIME, "2025": DATE_TIME}),
    ("replacement cost is $1,234.56??", {"$1,234.56": PRICE}),
    ("REF 025.04 SMI is reference only?", {"025.04 SMI": CALL_NUMBER}),
    ("ML410.B4 T5 1967 v.2", {"ML410.B4 T5 1967": CALL_NUMBER}),
    # digits that are neither: counts, pages, order numbers (no identifier labelled)
    ("we need 25 copies for 120 students", {}),
    ("pages 123-145 of chapter 12", {}),
    ("order #48213 came in?", {}),
    ("3 books, 2 dvds, and 1 laptop charger", {}),
    ("Is this the edition you have? 1852893e", {}),
    ("ref m1234567abc, copy 2b1234567", {}),
    ("4111 1111 1111 1112 isn't a card", {}),
    ("the zip is 60601", {}),
    ("vol. 12 no. 3 pp. 45-67", {}),
]

# A UK library: national numbers are its own, US ones come from abroad.
UK_LIBRARY: list[tuple[str, dict[str, str]]] = [
    ("my mobile 07700 900123", {"07700 900123": PHONE}),
    ("ring me on 020 7946 0958 please", {"020 7946 0958": PHONE}),
    ("0161 496 0000 is the office", {"0161 496 0000": PHONE}),
    (f"07700{NBSP}900{NBSP}321 after 6", {f"07700{NBSP}900{NBSP}321": PHONE}),
    ("I'm in the US this term: +1 312 555 0142", {"+1 312 555 0142": PHONE}),
    ("my US cell (312) 555-0142", {"(312) 555-0142": PHONE}),
    ("001 312 555 0199 is my dad's", {"001 312 555 0199": PHONE}),
    ("+61 491 570 156 whatsapp", {"+61 491 570 156": PHONE}),
    ("email: a.n.other@example.co.uk", {"a.n.other@example.co.uk": EMAIL}),
    ("card 21234000567890, book due 05.03.2025", {"21234000567890": LIBRARY_CARD, "05.03.2025": DATE_TIME}),
    ("ISBN 978-0-306-40615-7 please, I owe \u00a33.20", {"978-0-306-40615-7": ISBN, "\u00a33.20": PRICE}),
    ("ILL request 1234567, I'm on 07700 900777", {"ILL request 1234567": ILL, "07700 900777": PHONE}),
    ("OCLC 12345678 and doi:10.1093/ajae/aaq063", {"OCLC 12345678": OCLC, "doi:10.1093/ajae/aaq063": DOI}),
    ("item barcode 31234000567890 is in the wrong place", {"item barcode 31234000567890": ITEM_BARCODE}),
    ("pay with 5555 5555 5555 4444?", {"5555 5555 5555 4444": PAYMENT_CARD}),
]

CORPUS: dict[str, list[tuple[str, dict[str, str]]]] = {"US": US_LIBRARY, "GB": UK_LIBRARY}


@dataclass
class Tally:
    right: int = 0  # masked (with its mask) when its kind is masked, kept as typed otherwise
    total: int = 0

    @property
    def rate(self) -> float:
        return self.right / self.total if self.total else 1.0


@dataclass
class Score:
    by_kind: dict[str, Tally] = field(default_factory=dict)
    masks_on_identifiers: int = 0  # masks applied where something to mask was
    masks: int = 0  # masks applied
    wrong: list[tuple[str, str]] = field(default_factory=list)  # (kind, identifier) handled wrongly

    def overall(self, masked: bool) -> Tally:
        tallies = [tally for kind, tally in self.by_kind.items() if (kind in MASKS) == masked]
        return Tally(sum(tally.right for tally in tallies), sum(tally.total for tally in tallies))

    @property
    def recall(self) -> float:
        return self.overall(masked=True).rate

    @property
    def kept(self) -> float:
        return self.overall(masked=False).rate

    @property
    def precision(self) -> float:
        return self.masks_on_identifiers / self.masks if self.masks else 1.0


def score(redact: Callable = redaction.redact) -> Score:
    """How `redact` does on the corpus: per kind, the identifiers handled right; overall, the
    share of masks that fell on something to mask (precision)."""
    result = Score()
    for region, samples in CORPUS.items():
        for text, identifiers in samples:
            shown = redact(text, region=region, library_card_pattern=LIBRARY_CARD_PATTERN).text
            replaced = _replaced(text, shown)
            position = 0
            to_mask = []
            for identifier, kind in identifiers.items():
                start = text.index(identifier, position)
                end = position = start + len(identifier)
                tally = result.by_kind.setdefault(kind, Tally())
                tally.total += 1
                if kind in MASKS:
                    to_mask.append((start, end))
                    right = any(first <= start and end <= last and mask == MASKS[kind]
                                for first, last, mask in replaced)
                else:
                    right = not any(first < end and start < last for first, last, _ in replaced)
                tally.right += right
                if not right:
                    result.wrong.append((kind, identifier))
            result.masks += len(replaced)
            result.masks_on_identifiers += sum(any(first < end and start < last for start, end in to_mask)
                                               for first, last, _ in replaced)
    return result


def _replaced(text: str, shown: str) -> list[tuple[int, int, str]]:
    """(start, end, mask): each stretch of `text` that `shown` replaced with a mask. The shown text
    is the original with stretches replaced, so what lies between its masks is found in the
    original, in order."""
    masks = MASKED.findall(shown)
    between = "(.+?)".join(re.escape(part) for part in MASKED.split(shown))
    match = re.fullmatch(between, text, re.DOTALL)
    assert match, f"not the original with masks: {shown!r}"
    return [(match.start(group), match.end(group), mask) for group, mask in enumerate(masks, 1)]
