# Shared by scripts/demo and scripts/test: find Python (3.11, 3.12 or 3.13) and make the virtual
# environment, with the tested versions of constraints.txt.
# Usage: source scripts/_env.sh EXTRAS   (EXTRAS like "faces" or "dev,faces,docs")
# REELFORGE_PYTHON (a command or a path, e.g. python3.13) picks the interpreter; its environment
# is then .venv-3.13 (the version's own) unless REELFORGE_VENV names one.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CONSTRAINTS="$REPO_ROOT/constraints.txt"
extras="$1"

supported_python() {
  "$1" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] <= (3, 13) else 1)' \
    >/dev/null 2>&1
}

find_python() {
  if [ -n "${REELFORGE_PYTHON:-}" ]; then
    if supported_python "$REELFORGE_PYTHON"; then
      command -v "$REELFORGE_PYTHON"
      return 0
    fi
    echo "Reelforge: REELFORGE_PYTHON=$REELFORGE_PYTHON does not run as Python 3.11, 3.12" \
      "or 3.13 here." >&2
    return 1
  fi
  for candidate in python3.11 python3.12 python3.13 python3 python; do
    if command -v "$candidate" >/dev/null 2>&1 && supported_python "$candidate"; then
      command -v "$candidate"
      return 0
    fi
  done
  echo "Reelforge needs Python 3.11, 3.12 or 3.13: install one (e.g. 'apt-get install" \
    "python3.11 python3.11-venv' or pyenv), or name it in REELFORGE_PYTHON, and retry." >&2
  return 1
}

python_version() {
  "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])'
}

if [ -n "${REELFORGE_PYTHON:-}" ]; then
  PYTHON="$(find_python)"
  version="$(python_version "$PYTHON")"
  VENV="${REELFORGE_VENV:-$REPO_ROOT/.venv-$version}"
  if [ -x "$VENV/bin/python" ] && [ "$(python_version "$VENV/bin/python")" != "$version" ]; then
    echo "Reelforge: $VENV runs Python $(python_version "$VENV/bin/python"), not the" \
      "$version of REELFORGE_PYTHON; remove it or name another REELFORGE_VENV." >&2
    exit 1
  fi
else
  VENV="${REELFORGE_VENV:-$REPO_ROOT/.venv}"
fi

# Set-up messages go to stderr, so a command's own output stays clean.
if [ ! -x "$VENV/bin/python" ]; then
  PYTHON="${PYTHON:-$(find_python)}"
  echo "Reelforge: first run, creating the virtual environment in $VENV with $PYTHON..." >&2
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip >&2
fi
# An install is current while it is newer than what it was installed from.
installed_from_current() {
  ! [ "$REPO_ROOT/pyproject.toml" -nt "$1" ] && ! [ "$CONSTRAINTS" -nt "$1" ]
}
# An install with more extras (scripts/test's dev,faces,docs) serves a command that needs fewer.
installed_with() {
  local have="$1" want
  for want in ${extras//,/ }; do
    [[ ",$have," == *",$want,"* ]] || return 1
  done
}
stamp="$VENV/.reelforge-installed-$extras"
for candidate in "$VENV"/.reelforge-installed-*; do
  if [ -f "$candidate" ] && installed_from_current "$candidate" &&
    installed_with "${candidate##*/.reelforge-installed-}"; then
    stamp="$candidate"
    break
  fi
done
if [ ! -f "$stamp" ] || ! installed_from_current "$stamp"; then
  echo "Reelforge: installing its packages ($extras) into $VENV: on a first run this" \
    "downloads about 150 packages and usually takes about 3 minutes; later runs skip it." >&2
  started=$SECONDS
  # pip's own lines (one a package) are the progress; constraints.txt holds the versions.
  # The diffusers extra's torch is the CPU build constraints.txt pins, which PyPI lacks: it is
  # installed first, from pip's own indexes if they have it, else from PyTorch's index
  # (REELFORGE_TORCH_INDEX names another, a GPU build's say).
  if [[ ",$extras," == *",diffusers,"* ]] && ! "$VENV/bin/python" -c 'import torch' 2>/dev/null; then
    "$VENV/bin/python" -m pip install --progress-bar off --no-deps -c "$CONSTRAINTS" torch >&2 ||
      "$VENV/bin/python" -m pip install --progress-bar off --no-deps -c "$CONSTRAINTS" \
        --extra-index-url "${REELFORGE_TORCH_INDEX:-https://download.pytorch.org/whl/cpu}" torch >&2
  fi
  "$VENV/bin/python" -m pip install --progress-bar off -c "$CONSTRAINTS" \
    -e "$REPO_ROOT[$extras]" >&2
  touch "$stamp"
  echo "Reelforge: installed in $((SECONDS - started)) s." >&2
fi
export PATH="$VENV/bin:$PATH"
