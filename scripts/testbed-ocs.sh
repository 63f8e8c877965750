# Sourced by scripts/testbed: what differs between the two schedulers the testbed can run.
#   sge: Son of Grid Engine 8.1.9 from Debian's gridengine-* packages (commands in /usr/bin)
#   ocs: Open Cluster Scheduler 9.1.4 built by scripts/ocs-build from the vendored tarball
#        (SGE_ROOT /opt/ray-sge/ocs-<sha>, cell default; commands found through its settings.sh)
# Both use ports 6444/6445 (Debian's /etc/services names them: a job's client then needs no port
# variables), so only one runs at a time: `up --scheduler X` takes the other one down first.
# A login shell finds the running one's commands through $PROFILE_D (as sites do with settings.sh).
PROFILE_D=/etc/profile.d/ray-sge-testbed.sh
COMMON_PACKAGES="python3-venv iproute2 procps"

use_sge() {
  SCHED=sge
  SGE_CELL_DIR=/var/lib/gridengine/default
  QMASTER_SPOOL=/var/spool/gridengine/qmaster
  EXECD_SPOOL=/var/spool/gridengine/execd
  PACKAGES="gridengine-master gridengine-exec gridengine-client $COMMON_PACKAGES"
  unset SGE_ROOT SGE_CELL SGE_QMASTER_PORT SGE_EXECD_PORT SGE_CLUSTER_NAME
  PATH=$(echo "$PATH" | tr ':' '\n' | grep -v '^/opt/ray-sge/ocs-' | paste -sd: -)
}

use_ocs() {
  SCHED=ocs
  OCS_ROOT=$(ocs_root) || die "Open Cluster Scheduler is not built: run scripts/ocs-build (it needs clusterscheduler-9.1.4.tar.gz beside the checkout in ../shared/vendor/, or RSGE_OCS_TARBALL)"
  SGE_CELL_DIR=$OCS_ROOT/default
  QMASTER_SPOOL=$OCS_ROOT/default/spool/qmaster
  EXECD_SPOOL=$OCS_ROOT/default/spool
  PACKAGES=$COMMON_PACKAGES
  ocs_env
}

# the build's root, building it first when `up` asks for it (scripts/ocs-build caches by checksum)
ocs_root() {
  if [ "${OCS_BUILD_OK:-0}" = 1 ]; then "$HERE/ocs-build" 2>>"$STATE/ocs-build.log"; return; fi
  local r; r=$(ls -d /opt/ray-sge/ocs-*/.ray-sge-built 2>/dev/null | head -1)
  [ -n "$r" ] && dirname "$r"
}

ocs_env() {
  if [ -r "$SGE_CELL_DIR/common/settings.sh" ]; then
    # shellcheck disable=SC1091
    set +u; . "$SGE_CELL_DIR/common/settings.sh"; set -u   # it reads unset variables
  fi
}

execd_pidfile() {
  if [ "$SCHED" = ocs ]; then echo "$EXECD_SPOOL/$1/execd.pid"; else echo "/var/run/gridengine/execd-$1.pid"; fi
}

# the command that starts node $1's execd (run inside its namespace with its own hostname)
execd_command() {
  if [ "$SCHED" = ocs ]; then
    echo ". $SGE_CELL_DIR/common/settings.sh && exec $OCS_ROOT/bin/lx-amd64/sge_execd"
  else
    echo "SGE_EXECD_PIDFILE=$(execd_pidfile "$1") exec /usr/sbin/sge_execd"
  fi
}

# install the cell once: qmaster on this host, no execd here (jobs run on emulated hosts only)
ocs_install() {
  if [ -r "$SGE_CELL_DIR/common/settings.sh" ]; then say "OCS cell already installed in $SGE_CELL_DIR"; ocs_env; return; fi
  cat > "$TMPD/ocs.conf" <<CONF
SGE_ROOT="$OCS_ROOT"
SGE_QMASTER_PORT="6444"
SGE_EXECD_PORT="6445"
SGE_ENABLE_SMF="false"
SGE_CLUSTER_NAME="rsge"
CELL_NAME="default"
ADMIN_USER=""
QMASTER_SPOOL_DIR="$QMASTER_SPOOL"
EXECD_SPOOL_DIR="$EXECD_SPOOL"
GID_RANGE="20000-20100"
SPOOLING_METHOD="classic"
DB_SPOOLING_DIR="spooldb"
PAR_EXECD_INST_COUNT="20"
ADMIN_HOST_LIST="$(hostname)"
SUBMIT_HOST_LIST="$(hostname)"
EXEC_HOST_LIST=""
EXECD_SPOOL_DIR_LOCAL=""
HOSTNAME_RESOLVING="true"
SHELL_NAME="ssh"
COPY_COMMAND="scp"
DEFAULT_DOMAIN="none"
ADMIN_MAIL="none"
ADD_TO_RC="false"
SET_FILE_PERMS="true"
RESCHEDULE_JOBS="wait"
SCHEDD_CONF="1"
SHADOW_HOST=""
EXEC_HOST_LIST_RM=""
REMOVE_RC="false"
CONF
  (cd "$OCS_ROOT" && ./inst_sge -m -auto "$TMPD/ocs.conf") > "$STATE/ocs-install.log" 2>&1 \
    || { tail -n 30 "$STATE/ocs-install.log" >&2; die "inst_sge failed (log: $STATE/ocs-install.log)"; }
  [ -r "$SGE_CELL_DIR/common/settings.sh" ] || { tail -n 30 "$STATE/ocs-install.log" >&2; die "inst_sge wrote no settings.sh (log: $STATE/ocs-install.log)"; }
  ocs_env
}

ocs_start_qmaster() {
  if qm_up; then say "qmaster already running"; return; fi
  "$OCS_ROOT/bin/lx-amd64/sge_qmaster" >/dev/null 2>&1 || true
  local i; for i in $(seq 1 60); do qm_up && return; sleep 0.5; done
  qmaster_log >&2; die "sge_qmaster (OCS) did not answer within 30 s (its log is above)"
}

# an RSMAP complex gpu (each host offers ids 0-3: add_node): GPU requests are tested for real (no GPU needed)
ocs_gpu_complex() {
  if ! qconf -sc | awk '$1=="gpu"' | grep -w RSMAP >/dev/null; then
    { qconf -sc | grep -v '^#' | awk '$1!="gpu"'; echo "gpu gpu RSMAP <= YES YES 0 0"; } > "$TMPD/complexes"
    qc -Mc "$TMPD/complexes"
  fi
}

# the profile.d line that gives every login shell the running scheduler's commands
write_profile() {
  if [ "$SCHED" = ocs ]; then
    printf '%s\n' "# written by ray-sge's scripts/testbed: the running scheduler is Open Cluster Scheduler" \
      "[ -r $SGE_CELL_DIR/common/settings.sh ] && . $SGE_CELL_DIR/common/settings.sh" > "$PROFILE_D"
    chmod 644 "$PROFILE_D"
  else
    rm -f "$PROFILE_D"   # 8.1.9's commands are in /usr/bin
  fi
}
