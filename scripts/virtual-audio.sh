#!/usr/bin/env bash
# Virtual sound devices for a machine without a sound card: a private, headless PulseAudio
# with a speaker sink (vspeaker; record it from vspeaker.monitor) and a microphone (vmic;
# feed it by playing into vmic_feed), both 24 kHz mono s16, clocked in real time.
#
#   eval "$(scripts/virtual-audio.sh start)"   # start; prints the exports clients need
#   paplay -d vmic_feed hello.wav              # what the microphone hears
#   parec -d vspeaker.monitor --raw --rate=24000 --channels=1 --format=s16le > out.raw
#   scripts/virtual-audio.sh stop              # stop the daemon and its helpers, clean up
#   scripts/virtual-audio.sh status
#
# The state lives in one directory (default /tmp/convctl-virtual-audio, or the second
# argument, or $CONVCTL_VIRTUAL_AUDIO): the daemon's runtime dir, its log, the pids, and
# `env`, the export clients need (PULSE_SERVER). Needs pulseaudio, pulseaudio-utils, libasound2-plugins
# (installed by scripts/setup.sh). The tests start it through tests/pulse_devices.py.
#
# Two measured pitfalls are handled here: null sinks render 2 s blocks when no client asks
# for low latency, so a new stream can stall ~1.8 s -> one low-latency `parec` "keeper"
# stays on each of vspeaker.monitor and vmic, then both sinks are suspended and resumed;
# and the first ~9 ms of playback went missing from captures -> norewinds=1 on the sinks.
set -euo pipefail

command=${1:-}
dir=${2:-${CONVCTL_VIRTUAL_AUDIO:-/tmp/convctl-virtual-audio}}
FORMAT="format=s16le rate=24000 channels=1"

die() { echo "virtual-audio: $*" >&2; exit 1; }

server="unix:$dir/xdg/pulse/native"

client_env() {
  # Clients find this daemon by PULSE_SERVER alone (the socket allows anonymous access;
  # it sits in a directory only its owner can enter), so the caller's XDG_RUNTIME_DIR
  # and any real sound server stay untouched.
  PULSE_SERVER="$server" "$@"
}

is_running() {
  [ -f "$dir/xdg/pulse/pid" ] && kill -0 "$(cat "$dir/xdg/pulse/pid")" 2>/dev/null
}

start_daemon() {
  mkdir -p "$dir/xdg" "$dir/home"
  chmod 700 "$dir/xdg"
  XDG_RUNTIME_DIR="$dir/xdg" HOME="$dir/home" pulseaudio --daemonize=yes -n \
    --exit-idle-time=-1 --use-pid-file=yes --log-target="file:$dir/pulse.log" \
    --load="module-native-protocol-unix auth-anonymous=1" \
    --load="module-null-sink sink_name=vspeaker $FORMAT norewinds=1" \
    --load="module-null-sink sink_name=vmic_feed $FORMAT norewinds=1" \
    --load="module-remap-source source_name=vmic master=vmic_feed.monitor" \
    || die "pulseaudio did not start; see $dir/pulse.log"
}

check_devices() {
  # A --load that fails does not stop the daemon, so look for the devices themselves.
  client_env pactl list short sources | grep -q '[[:space:]]vmic[[:space:]]' \
    || die "the virtual microphone is missing; see $dir/pulse.log"
  client_env pactl list short sinks | grep -q '[[:space:]]vspeaker[[:space:]]' \
    || die "the virtual speaker is missing; see $dir/pulse.log"
  client_env pactl set-default-sink vspeaker
  client_env pactl set-default-source vmic
}

start_keepers() {
  : > "$dir/keepers.pid"
  for source in vspeaker.monitor vmic; do
    # `env` execs parec, so $! is parec's own pid (a function would add a subshell).
    env PULSE_SERVER="$server" parec --latency-msec=10 --raw -d "$source" \
      > /dev/null 2>&1 &
    echo $! >> "$dir/keepers.pid"
  done
  # The sinks pick the keepers' low latency up only after a suspend/resume.
  for sink in vspeaker vmic_feed; do
    client_env pactl suspend-sink "$sink" 1
    client_env pactl suspend-sink "$sink" 0
  done
}

write_env() {
  printf 'export PULSE_SERVER=%q\n' "$server" > "$dir/env"
}

stop_all() {
  if [ -f "$dir/keepers.pid" ]; then
    while read -r pid; do kill "$pid" 2>/dev/null || true; done < "$dir/keepers.pid"
  fi
  if is_running; then
    pid=$(cat "$dir/xdg/pulse/pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  case "$dir" in
    /|"") ;;
    *) rm -rf "$dir" ;;
  esac
}

case "$command" in
  start)
    command -v pulseaudio >/dev/null && command -v parec >/dev/null \
      || die "pulseaudio and pulseaudio-utils are needed: run scripts/setup.sh"
    if is_running; then
      cat "$dir/env"; exit 0
    fi
    start_daemon
    check_devices
    start_keepers
    write_env
    cat "$dir/env"
    echo "virtual-audio: speaker vspeaker (capture vspeaker.monitor)," \
      "microphone vmic (play into vmic_feed); state in $dir" >&2
    ;;
  stop)
    stop_all
    ;;
  status)
    if is_running; then
      echo "running (pid $(cat "$dir/xdg/pulse/pid"), state in $dir)"
    else
      echo "not running"; exit 1
    fi
    ;;
  *)
    echo "usage: $0 start|stop|status [STATE_DIR]" >&2; exit 2
    ;;
esac
