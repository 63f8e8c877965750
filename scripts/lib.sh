# Shared by scripts/demo and scripts/test: checks and installs that both need.
need_node() {
  local v
  v=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [ "$v" -lt 20 ]; then
    echo "ray-sge needs Node.js 20 or newer (found: $(node --version 2>/dev/null || echo none))." >&2
    echo "Debian 12's own nodejs package is 18; install Node 20 from nodejs.org or NodeSource." >&2
    exit 1
  fi
}

npm_install() {
  # the lock pins every version; `npm ci` is quick when node_modules already matches it
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
  fi
}

need_root_for_testbed() {
  if [ "$(id -u)" != 0 ]; then
    echo "The testbed (a real Grid Engine on this machine) needs root: run this as root or with sudo." >&2
    exit 1
  fi
}
