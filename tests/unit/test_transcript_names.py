"""Issue 17, item 6: a kept transcript strips the names a patron gives, and a librarian's greetings
that echo them, and nothing that only looks like one (refdesk.transcripts.names_given)."""
from __future__ import annotations

import dataclasses

import pytest

from refdesk.models import Author, Conversation, Message, ReplyTo, Visibility
from refdesk.transcripts import names_given, render


def said(text: str, author: Author = Author.PATRON, name: str = "") -> Message:
    return Message(message_id=text[:20], at="2026-03-02T15:00:00+00:00", author=author, text=text, author_name=name)


@pytest.mark.parametrize(("text", "names"), [
    ("Hi, my name is Priya and I need the tax forms", {"Priya"}),
    ("My name is Jane Rivers. Can you renew my books?", {"Jane", "Rivers"}),
    ("Hello! I'm Priya. Is the main branch open Sunday?", {"Priya"}),
    ("hi it's Tomás again, did my hold come in?", {"Tomás"}),
    ("This is Priya from the book club: do you have 12 copies?", {"Priya"}),
    ("im Sam, a student at the college", {"Sam"}),
    ("Great, that's all I needed. Thanks, Priya", {"Priya"}),
    ("Do you have it on the shelf?\n- Priya", {"Priya"}),
    ("Call me Jo. Do you have large print?", {"Jo"}),
    ("See you Saturday.\nBest,\nPriya O'Neil", {"Priya", "O'Neil"}),
])
def test_a_patron_names_themself(text, names):
    assert names_given([said(text)]) == names


@pytest.mark.parametrize("text", [
    "I'm looking for a book about the history of Brooklyn",
    "This is for a class, due Monday",
    "This is The Power Broker by Robert Caro, right?",
    "I'm not sure which branch has it",
    "I am Looking for the Power Broker",
    "It's Friday. Are you open late?",
    "My name is on the hold list already",
    "Thanks so much!",
    "Thanks!",
    "I'm Sorry, I meant the second edition",
    "Is the book by Ta-Nehisi Coates in?",
    "Thanks, Amanda!",  # the librarian's name, not the patron's
])
def test_what_only_looks_like_a_name_is_kept(text):
    assert names_given([said(text)], staff={"Amanda"}) == set()


def test_a_librarians_greeting_echoes_the_patrons_name_and_a_patrons_greeting_does_not():
    conversation = [said("Hi Amanda, do you have The Power Broker?"),
                    said("Hi Priya, yes: two copies at Main.", Author.LIBRARIAN, "Amanda Lee"),
                    said("Hi there! Anything else?", Author.LIBRARIAN, "Amanda Lee")]

    assert names_given(conversation, staff={"Amanda"}) == {"Priya"}


def test_the_transcript_masks_each_name_given_wherever_it_is_written():
    messages = [said("Hi, I'm Priya. This is for a class: do you have The Power Broker?"),
                said("Hi Priya! Yes, it's on the shelf.", Author.LIBRARIAN, "Amanda Lee"),
                said("Great, I'm looking for it now. Thanks, Priya"),
                said("note: Priya is a regular", Author.LIBRARIAN, "Amanda Lee")]
    messages[-1] = dataclasses.replace(messages[-1], visibility=Visibility.INTERNAL)
    conversation = Conversation(conversation_id="c1", patron_id="p1", channel="sms", anchor="sms-p1",
                                label="SMS ···4567")

    lines = [line["text"] for line in render(conversation, ReplyTo(), messages)["messages"]]

    assert lines == ["Hi, I'm [name]. This is for a class: do you have The Power Broker?",
                     "Hi [name]! Yes, it's on the shelf.",
                     "Great, I'm looking for it now. Thanks, [name]"]
