# Shared by the private test-cluster fixtures (sourced): tests/slurm/cluster-up|down (one node)
# and tests/cluster/up|down (several nodes in network namespaces). The caller defines say() and,
# for fx_waitfor, fail(). Nothing here touches a process or file that the caller did not name.

# fx_need_slurm: install slurm-wlm and munge with apt-get when missing (root only), else exit 77.
fx_need_slurm() {
  local c need=
  for c in munged slurmctld slurmd sbatch; do command -v "$c" >/dev/null || need=1; done
  [ -z "$need" ] && return
  [ "$(id -u)" = 0 ] || { echo "SKIP: Slurm/munge not installed and not root (cannot apt-get install slurm-wlm munge)"; exit 77; }
  say "installing slurm-wlm and munge with apt-get"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge; } >&2 ||
    { echo "SKIP: apt-get install slurm-wlm munge failed"; exit 77; }
}

# fx_start DIR NAME CMD...: run CMD in the background in its own session, stdin closed, every
# inherited fd above 2 closed (an inherited lock fd once kept munged holding a lock), output
# appended to DIR/log/NAME.out, PID in DIR/run/NAME.pid (the subshell execs, so $! is the
# daemon, also through `nsenter`/`unshare` without --fork). SLURM_CONF and the marker
# NNMPI_SLURM_CLUSTER=DIR are in its environment.
fx_start() {
  local dir=$1 name=$2; shift 2
  (
    for fd in /proc/$BASHPID/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done 2>/dev/null
    export SLURM_CONF=$dir/etc/slurm.conf NNMPI_SLURM_CLUSTER=$dir
    exec setsid "$@" </dev/null >>"$dir/log/$name.out" 2>&1
  ) &
  echo $! > "$dir/run/$name.pid"
}

# fx_munged DIR: start munged with a fresh key, socket DIR/munge-sock/munge.socket; wait for it.
fx_munged() {
  local dir=$1 sock=$1/munge-sock/munge.socket
  mkdir -p "$dir"/{munge-key,munge-sock,munge-lib} &&
    chmod 0700 "$dir/munge-key" "$dir/munge-lib" && chmod 0755 "$dir/munge-sock" || fail "cannot create munge dirs"
  dd if=/dev/urandom of="$dir/munge-key/munge.key" bs=1024 count=1 status=none
  chmod 0400 "$dir/munge-key/munge.key"
  fx_start "$dir" munged munged -F -f --socket="$sock" --key-file="$dir/munge-key/munge.key" \
    --pid-file="$dir/run/munged.daemon.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge-lib/seed"
  fx_waitfor 15 munged bash -c "munge -n -S '$sock' | unmunge -S '$sock'"
}

# fx_conf_common DIR: the slurm.conf lines both fixtures share (auth, state, plugins that suit a
# container without systemd or cgroups, fast scheduling, no accounting, a jobcomp file).
fx_conf_common() {
  local dir=$1
  cat <<CONF
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# cred_expire also sets how long a requeued job waits before it may start again (default 120 s).
AuthInfo=socket=$dir/munge-sock/munge.socket,cred_expire=5
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmctldPidFile=$dir/run/slurmctld.daemon.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=$dir/etc/plugstack.conf
# No systemd, no cgroup freezer here: track processes through /proc, bind nothing.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
SchedulerType=sched/backfill
# Schedule at once on submit and every second (a requeued job becomes eligible by time).
SchedulerParameters=batch_sched_delay=0,sched_interval=1,bf_interval=1
MailProg=/bin/true
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.txt
ReturnToService=2
OverTimeLimit=0
MinJobAge=120
JobRequeue=1
CONF
}

# fx_waitfor SECONDS WHAT CMD...: poll CMD every 0.2 s; fail() when it never succeeds.
fx_waitfor() {
  local n=$(( $1 * 5 )) what=$2; shift 2
  until "$@" >/dev/null 2>&1; do n=$((n - 1)); [ $n -gt 0 ] || fail "timed out waiting for $what"; sleep 0.2; done
}

# fx_is PID NAME: PID is alive, not a zombie, and its command is NAME (guards against PID reuse).
fx_is() {
  local s; s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  case $s in *"($2) Z"*) return 1;; *"($2) "*) return 0;; esac; return 1
}

# fx_stop NAME PID...: TERM the PIDs that are still NAME, wait up to 10 s, then KILL.
fx_stop() {
  local name=$1 p n alive; shift
  for p in "$@"; do fx_is "$p" "$name" && kill -TERM "$p" 2>/dev/null; done
  for n in $(seq 50); do
    alive=; for p in "$@"; do fx_is "$p" "$name" && alive=1; done
    [ -z "$alive" ] && return; sleep 0.2
  done
  for p in "$@"; do fx_is "$p" "$name" && { say "killing $name $p"; kill -KILL "$p"; }; done
}

# fx_saved_pid DIR NAME: the PID saved by fx_start.
fx_saved_pid() { [ -f "$1/run/$2.pid" ] && cat "$1/run/$2.pid"; }

# fx_cancel_all: cancel every job of the cluster that SLURM_CONF names; wait up to 10 s.
fx_cancel_all() {
  local n
  scancel --full --quiet $(squeue -h -o %i 2>/dev/null) 2>/dev/null
  for n in $(seq 50); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.2; done
}
