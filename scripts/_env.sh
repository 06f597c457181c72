# Shared by scripts/demo and scripts/test: find Python 3.11 and make the virtual environment.
# Usage: source scripts/_env.sh EXTRAS   (EXTRAS like "faces" or "dev,faces,docs")
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${REELFORGE_VENV:-$REPO_ROOT/.venv}"
extras="$1"

find_python() {
  for candidate in python3.11 python3 python; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  echo "Reelforge needs Python 3.11: on Python 3.12 and newer its embedded job engine needs" \
    "SQLite 3.42 or newer, which Debian 12's Pythons lack (3.40)." >&2
  echo "Install it (e.g. 'apt-get install python3.11 python3.11-venv' or pyenv) and retry." >&2
  return 1
}

# Set-up messages go to stderr, so a command's own output stays clean.
if [ ! -x "$VENV/bin/python" ]; then
  echo "Reelforge: first run, creating the virtual environment in $VENV..." >&2
  "$(find_python)" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip >&2
fi
# An install with more extras (scripts/test's dev,faces,docs) serves a command that needs fewer.
installed_with() {
  local have="$1" want
  for want in ${extras//,/ }; do
    [[ ",$have," == *",$want,"* ]] || return 1
  done
}
stamp="$VENV/.reelforge-installed-$extras"
for candidate in "$VENV"/.reelforge-installed-*; do
  if [ -f "$candidate" ] && ! [ "$REPO_ROOT/pyproject.toml" -nt "$candidate" ] &&
    installed_with "${candidate##*/.reelforge-installed-}"; then
    stamp="$candidate"
    break
  fi
done
if [ ! -f "$stamp" ] || [ "$REPO_ROOT/pyproject.toml" -nt "$stamp" ]; then
  echo "Reelforge: installing its packages ($extras) into $VENV: on a first run this" \
    "downloads about 150 packages and usually takes about 3 minutes; later runs skip it." >&2
  started=$SECONDS
  # pip's own lines (one a package) are the progress.
  "$VENV/bin/python" -m pip install --progress-bar off -e "$REPO_ROOT[$extras]" >&2
  touch "$stamp"
  echo "Reelforge: installed in $((SECONDS - started)) s." >&2
fi
export PATH="$VENV/bin:$PATH"
