#!/usr/bin/env bash
# Installs everything the tests need, then runs the whole suite: lint, types, the widget
# bundle check, and pytest (unit, Socket.IO, storage contract, browser). Extra arguments go
# to pytest. PostgreSQL and Redis tests run when CHATKIT_TEST_POSTGRES / CHATKIT_TEST_REDIS
# are set (.ci/run sets them) and are skipped, with the reason shown, when they are not.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian's Chromium for the browser tests; Playwright drives it and never downloads one.
if [ ! -x /usr/bin/chromium ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi

python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'

# The widget bundle committed in chatkit/static/ must be what its sources build to,
# within its size budgets.
(cd widget && npm ci --silent --no-audit --no-fund && node build.mjs --check)

.venv/bin/ruff check .
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
