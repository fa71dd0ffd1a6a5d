# Shared by scripts/run and scripts/test: where builds go, and installing what is missing.
# Everything here is idempotent and safe to run on a fresh machine.

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${SG_CACHE:-$HOME/.cache/secrets-gateway}"
# Build artifacts live outside the checkout so fresh clones (CI) reuse them.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Installs Debian packages that are missing (as root, or with sudo).
ensure_debian_packages() {
    local missing=()
    for package in "$@"; do
        dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing Debian packages: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
}

ensure_rust() {
    command -v cargo >/dev/null || { echo "cargo is required: https://rustup.rs" >&2; exit 1; }
}

ensure_wasm_target() {
    if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
        log "installing the wasm32-wasip2 Rust target"
        rustup target add wasm32-wasip2
    fi
}

# A venv with the test suite's Python packages, rebuilt when tests/requirements.txt changes.
ensure_venv() {
    local digest
    digest="$(sha256sum "$REPO/tests/requirements.txt" | cut -c1-12)"
    VENV="$CACHE/venv-$digest"
    if [ ! -x "$VENV/bin/pytest" ]; then
        log "creating the Python venv $VENV"
        rm -rf "$VENV"
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install -q --upgrade pip
        "$VENV/bin/pip" install -q -r "$REPO/tests/requirements.txt"
    fi
    export VENV
}

# componentize-py, which builds the Python plugins, in a venv of its own.
ensure_componentize_py() {
    local digest
    digest="$(sha256sum "$REPO/plugins/requirements.txt" | cut -c1-12)"
    local venv="$CACHE/venv-plugins-$digest"
    if [ ! -x "$venv/bin/componentize-py" ]; then
        log "installing componentize-py into $venv"
        rm -rf "$venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q -r "$REPO/plugins/requirements.txt"
    fi
    COMPONENTIZE_PY="$venv/bin/componentize-py"
}

# componentize-js, which builds the JavaScript plugins, from plugins/package-lock.json.
ensure_componentize_js() {
    command -v npm >/dev/null || ensure_debian_packages nodejs npm
    local digest
    digest="$(cat "$REPO/plugins/package.json" "$REPO/plugins/package-lock.json" | sha256sum | cut -c1-12)"
    local dir="$CACHE/node-plugins-$digest"
    if [ ! -x "$dir/node_modules/.bin/componentize-js" ]; then
        log "installing componentize-js into $dir"
        rm -rf "$dir" "$dir.partial"
        mkdir -p "$dir.partial"
        cp "$REPO/plugins/package.json" "$REPO/plugins/package-lock.json" "$dir.partial/"
        (cd "$dir.partial" && npm ci --no-audit --no-fund --loglevel=error >&2)
        mv "$dir.partial" "$dir"
    fi
    COMPONENTIZE_JS="$dir/node_modules/.bin/componentize-js"
}
