# Shared by scripts/up and scripts/test: installs what kirikae needs on a fresh Debian machine
# (Rust, PostgreSQL, the tansu broker) and starts the broker and the database when they are down.
# Sourced, not run.

set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/kirikae"
STATE="$REPO/.kirikae"
TANSU_VERSION="0.6.0"
# tansu built with kirikae's patches (docs/broker.md); bump the suffix whenever a patch in
# docs/broker/ changes, so an older build is never taken for it.
TANSU_BUILD="$TANSU_VERSION-kirikae7"
TANSU="$CACHE/tansu-$TANSU_BUILD/bin/tansu"
export TANSU_BINARY="$TANSU"
# One build directory that outlives clones: CI and later runs reuse what was compiled.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"
export KIRIKAE_KAFKA_BROKERS="${KIRIKAE_KAFKA_BROKERS:-127.0.0.1:9092}"
# The hub's own role (created by `kirikae migrate`, which runs as the owner, postgres).
export KIRIKAE_DATABASE_URL="${KIRIKAE_DATABASE_URL:-postgres://kirikae@127.0.0.1:5432/kirikae}"

say() { printf '\033[1m[kirikae]\033[0m %s\n' "$*" >&2; }

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_port() { # host port seconds what
  local i
  for ((i = 0; i < $3 * 5; i++)); do
    port_open "$1" "$2" && return 0
    sleep 0.2
  done
  say "$4 did not answer on $1:$2 within $3 s"
  return 1
}

apt_install() {
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
  if [ -z "${APT_UPDATED:-}" ]; then $SUDO apt-get update -qq; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

ensure_build_tools() {
  command -v cc >/dev/null && command -v make >/dev/null && command -v perl >/dev/null \
    && command -v curl >/dev/null && pkg-config --exists openssl 2>/dev/null && return 0
  # OpenSSL's headers: librdkafka is built with TLS and SASL (Kafka's SSL and SASL_SSL).
  say "installing build tools (gcc, make, perl, curl, pkg-config, libssl-dev)"
  apt_install build-essential perl curl ca-certificates pkg-config libssl-dev
}

ensure_rust() {
  if ! command -v cargo >/dev/null && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
  command -v cargo >/dev/null && return 0
  say "installing Rust (rustup, stable)"
  if ! command -v rustup >/dev/null; then apt_install rustup || true; fi
  if command -v rustup >/dev/null; then
    rustup default stable >/dev/null
  else
    curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  fi
  export PATH="$HOME/.cargo/bin:$PATH"
}

ensure_postgres() {
  port_open 127.0.0.1 5432 && return 0
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    say "installing PostgreSQL"
    apt_install postgresql
    local conf
    conf="$(ls -d /etc/postgresql/*/main | head -1)"
    # A local development cluster: trust connections from this machine only.
    sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$conf/pg_hba.conf"
  fi
  say "starting PostgreSQL"
  local version
  version="$(ls /etc/postgresql | sort -V | tail -1)"
  # TLS on (Debian's snakeoil certificate), so that `database_sslmode = "require"` can be tried
  # and tested locally.
  local conf="/etc/postgresql/$version/main/postgresql.conf"
  if [ -f /etc/ssl/certs/ssl-cert-snakeoil.pem ] && ! grep -Eq '^\s*ssl\s*=\s*on' "$conf"; then
    say "turning TLS on in PostgreSQL (snakeoil certificate)"
    printf "ssl = on\nssl_cert_file = '/etc/ssl/certs/ssl-cert-snakeoil.pem'\nssl_key_file = '/etc/ssl/private/ssl-cert-snakeoil.key'\n" >>"$conf"
  fi
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_port 127.0.0.1 5432 30 PostgreSQL
}

ensure_tansu() {
  [ -x "$TANSU" ] && return 0
  say "building the tansu broker $TANSU_BUILD once (about 16 minutes on 2 cores; kept in $CACHE)"
  command -v patch >/dev/null || apt_install patch
  local root="$CACHE/tansu-$TANSU_BUILD" crate
  local src="$root/src" registry="${CARGO_HOME:-$HOME/.cargo}/registry/cache"
  # Have cargo download the published crates (from crates.io, by name) into its registry.
  rm -rf "$src" && mkdir -p "$src/fetch/src"
  cat >"$src/fetch/Cargo.toml" <<TOML
[package]
name = "tansu-sources"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
tansu = { version = "=$TANSU_VERSION", default-features = false }
tansu-storage = { version = "=$TANSU_VERSION", default-features = false }
TOML
  : >"$src/fetch/src/lib.rs"
  cargo fetch --quiet --manifest-path "$src/fetch/Cargo.toml"
  for crate in tansu tansu-storage; do
    tar -xzf "$(ls "$registry"/*/"$crate-$TANSU_VERSION.crate" | head -1)" -C "$src"
  done
  # In this order: each patch applies to the source as the ones before it left it.
  local fix
  for fix in fetch no-panic sqlite-indexes statement-cache fetch-batching topic-cache headers; do
    patch -p1 --quiet -d "$src/tansu-storage-$TANSU_VERSION" \
      <"$REPO/docs/broker/tansu-storage-$fix.patch" || return 1
  done
  # Build tansu against the patched tansu-storage; every other dependency stays as tansu's
  # own Cargo.lock pins it (cargo fetch re-resolves only the patched package).
  cat >>"$src/tansu-$TANSU_VERSION/Cargo.toml" <<TOML

[patch.crates-io]
tansu-storage = { path = "../tansu-storage-$TANSU_VERSION" }
TOML
  cargo fetch --quiet --manifest-path "$src/tansu-$TANSU_VERSION/Cargo.toml"
  cargo install --path "$src/tansu-$TANSU_VERSION" --locked --features libsql \
    --root "$root" --quiet
}

ensure_broker() {
  local host="${KIRIKAE_KAFKA_BROKERS%%:*}" port="${KIRIKAE_KAFKA_BROKERS##*:}"
  port_open "$host" "$port" && return 0
  if [ "$KIRIKAE_KAFKA_BROKERS" != "127.0.0.1:9092" ]; then
    say "the broker $KIRIKAE_KAFKA_BROKERS does not answer"; return 1
  fi
  ensure_tansu
  mkdir -p "$STATE/broker"
  say "starting the tansu broker on 127.0.0.1:9092 (data in .kirikae/broker)"
  (cd "$STATE/broker" && nohup "$TANSU" broker \
      --listener-url tcp://127.0.0.1:9092 \
      --advertised-listener-url tcp://127.0.0.1:9092 \
      --storage-engine sqlite://tansu.db >tansu.log 2>&1 &)
  wait_port 127.0.0.1 9092 60 "the tansu broker"
}

# The test suite's own broker: fresh data on its own port, stopped and removed when the script
# exits. The tests make hundreds of topics; on the broker `up` uses they would pile up (tansu
# slows as they do), and deleting each test's topics while other tests' clients run crashed
# librdkafka. Skipped when KIRIKAE_KAFKA_BROKERS names another cluster.
start_test_broker() {
  [ "$KIRIKAE_KAFKA_BROKERS" = "127.0.0.1:9092" ] || return 0
  local port=19092 dir="$STATE/test-broker"
  if port_open 127.0.0.1 "$port"; then
    say "port $port (the test broker) is taken; stop what listens there"; return 1
  fi
  ensure_tansu
  rm -rf "$dir" && mkdir -p "$dir"
  say "starting the tests' own tansu broker on 127.0.0.1:$port (data in .kirikae/test-broker)"
  (cd "$dir" && exec "$TANSU" broker \
      --listener-url "tcp://127.0.0.1:$port" \
      --advertised-listener-url "tcp://127.0.0.1:$port" \
      --storage-engine sqlite://tansu.db >tansu.log 2>&1) &
  TEST_BROKER_PID=$!
  trap 'kill "$TEST_BROKER_PID" 2>/dev/null; wait "$TEST_BROKER_PID" 2>/dev/null; rm -rf "$STATE/test-broker"' EXIT
  wait_port 127.0.0.1 "$port" 60 "the test broker"
  export KIRIKAE_KAFKA_BROKERS="127.0.0.1:$port"
}

# The web tests drive a real headless Chromium over WebDriver; its client certificate goes into
# an NSS database made with certutil/pk12util (tests/hub/web_browser.rs).
ensure_browser() {
  command -v chromium >/dev/null && command -v chromedriver >/dev/null \
    && command -v certutil >/dev/null && command -v pk12util >/dev/null \
    && command -v openssl >/dev/null && fc-list :lang=ja | grep -q . && return 0
  say "installing Chromium, its WebDriver and the NSS tools (for the web tests)"
  apt_install chromium chromium-driver libnss3-tools openssl fonts-noto-cjk
}

# Independent checkers the tests run: fastavro decodes topic messages with only what the
# schema registry serves; openapi-spec-validator checks /openapi.json; schemathesis fuzzes the
# API from that document (tests/hub/schema_fuzz.rs; its 4.x command line).
ensure_python_tools() {
  python3 -c 'import fastavro, openapi_spec_validator, openapi_python_client, schemathesis' 2>/dev/null \
    && return 0
  say "installing fastavro, openapi-spec-validator, openapi-python-client and schemathesis (PyPI, for the tests)"
  command -v pip3 >/dev/null || python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
  local tools=(fastavro openapi-spec-validator openapi-python-client 'schemathesis>=4.3,<5')
  python3 -m pip install --quiet "${tools[@]}" \
    || python3 -m pip install --quiet --break-system-packages "${tools[@]}"
}

ensure_everything() {
  ensure_build_tools
  ensure_rust
  ensure_postgres
  ensure_broker
  ensure_browser
}
