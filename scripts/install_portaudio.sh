#!/usr/bin/env bash
# Install PortAudio (Debian's libportaudio2), the C library under `sounddevice`, which
# `earmark stream` uses for the microphone. Pipes and files need nothing of it; without it the
# microphone tests skip. Idempotent: installs only when the library is missing; never needs the
# network beyond Debian's package registry.
#
#   scripts/install_portaudio.sh
set -euo pipefail

if ldconfig -p 2>/dev/null | grep -q "libportaudio\.so"; then
    echo "portaudio: present"
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
    echo "portaudio: installing libportaudio2 with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libportaudio2
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    echo "portaudio: installing libportaudio2 with sudo apt-get"
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libportaudio2
else
    echo "portaudio: missing and not root; 'earmark stream' can read pipes and files, not a microphone" >&2
    exit 1
fi
