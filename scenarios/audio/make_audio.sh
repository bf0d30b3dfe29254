#!/usr/bin/env bash
# Makes the spoken user turns that scenarios and tests feed to convctl and its local server:
# espeak-ng speaks each line, sox pads it with silence and writes 24 kHz mono 16-bit WAV
# (the realtime API's pcm16 rate). Re-run after changing a line; the WAVs are committed.
set -euo pipefail
cd "$(dirname "$0")"

say() {  # say OUT.wav "text" [voice]: one utterance, raw 24 kHz WAV on stdout
  espeak-ng -v "${3:-en-us}" -s 175 --stdout "$2" \
    | sox -q -t wav - -r 24000 -c 1 -b 16 -e signed-integer "$1"
}
silence() {  # silence OUT.wav SECONDS
  sox -q -n -r 24000 -c 1 -b 16 -e signed-integer "$1" trim 0 "$2"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
silence "$tmp/lead.wav" 0.5
silence "$tmp/gap.wav" 2.0
silence "$tmp/pause.wav" 9.0
say "$tmp/weather.wav" "What's the weather in Paris?"
say "$tmp/goodbye.wav" "Thank you, goodbye."
say "$tmp/story.wav" "Tell me a story."
say "$tmp/hello.wav" "Hello there."
say "$tmp/weather_time.wav" "What's the weather and the time in Tokyo?"

# The README's first command: a question that needs the weather tool, then goodbye.
sox -q "$tmp/lead.wav" "$tmp/weather.wav" "$tmp/gap.wav" "$tmp/goodbye.wav" "$tmp/gap.wav" \
  weather_then_goodbye.wav
# The README's demo: the same two turns with time for the whole answer in between, so the
# goodbye does not cut into it (weather_then_goodbye.wav keeps its 2 s gap for the tests
# that time it).
sox -q "$tmp/lead.wav" "$tmp/weather.wav" "$tmp/pause.wav" "$tmp/goodbye.wav" "$tmp/gap.wav" \
  demo_weather_conversation.wav
# Single turns with a little silence around them.
sox -q "$tmp/lead.wav" "$tmp/weather.wav" "$tmp/lead.wav" "$tmp/lead.wav" weather_paris.wav
sox -q "$tmp/lead.wav" "$tmp/goodbye.wav" "$tmp/lead.wav" "$tmp/lead.wav" goodbye.wav
sox -q "$tmp/lead.wav" "$tmp/story.wav" "$tmp/lead.wav" "$tmp/lead.wav" tell_me_a_story.wav
sox -q "$tmp/lead.wav" "$tmp/hello.wav" "$tmp/lead.wav" "$tmp/lead.wav" hello.wav
# Two tools in one response (the default brain calls get_weather and get_time together).
sox -q "$tmp/lead.wav" "$tmp/weather_time.wav" "$tmp/lead.wav" "$tmp/lead.wav" \
  weather_and_time_tokyo.wav
for f in weather_then_goodbye.wav demo_weather_conversation.wav weather_paris.wav goodbye.wav tell_me_a_story.wav hello.wav \
         weather_and_time_tokyo.wav; do printf '%-28s %ss\n' "$f" "$(soxi -D "$f")"; done
