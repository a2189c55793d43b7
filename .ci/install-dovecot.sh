#!/bin/sh
# Install Dovecot's IMAP server for the IMAP tests and bench (tests/servers/dovecot.py).
# The tests run their own unprivileged-style instance from a temp dir on free
# loopback ports, so the system service is never started (policy-rc.d answers
# 101 "action forbidden" to the package's start request) and stays disabled.
# Usage: sh .ci/install-dovecot.sh   (a no-op when /usr/sbin/dovecot exists)
set -eu

DOVECOT=/usr/sbin/dovecot
if [ -x "$DOVECOT" ]; then
    echo "install-dovecot: $("$DOVECOT" --version) already installed"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

POLICY=/usr/sbin/policy-rc.d
OWN_POLICY=0
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
    $SUDO chmod 755 "$POLICY"
    OWN_POLICY=1
fi
cleanup() {
    if [ "$OWN_POLICY" -eq 1 ]; then
        $SUDO rm -f "$POLICY"
    fi
}
trap cleanup EXIT

$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    dovecot-imapd openssl

# Belt and braces on hosts with systemd: keep the system instance off.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now dovecot.service >/dev/null 2>&1 || true
fi

echo "install-dovecot: $("$DOVECOT" --version) installed"
