# Internals of the multi-node test cluster (sourced by tests/cluster/up, down and node).
# A cluster lives in DIR; DIR/cluster.vars holds its names and addresses, DIR/created the list
# of host objects it made (one "KIND NAME" per line, written right after each was made), which
# is all that `down` removes.

# fx_lock / fx_unlock: serialise the choice of a subnet and the use of /run/netns between
# clusters started at the same time (flock on the directory /run/lock: no file is left behind).
fx_lock() { exec 9</run/lock && flock -w 60 9; }
fx_unlock() { exec 9<&-; }

# fx_rec DIR KIND NAME: record a made object.
fx_rec() { echo "$2 $3" >> "$1/created"; }

# fx_recorded DIR KIND: the names of KIND in DIR/created, in the order they were made.
fx_recorded() { [ -f "$1/created" ] && awk -v k="$2" '$1 == k { print $2 }' "$1/created"; }

# fx_ns_pids NETNS: PIDs of every process in network namespace NETNS (/run/netns/NETNS).
# Processes of a node are exactly these: the node's namespace was made by this cluster.
fx_ns_pids() {
  local p ns=/run/netns/$1
  [ -e "$ns" ] || return 0
  for p in /proc/[0-9]*; do
    [ "$p/ns/net" -ef "$ns" ] 2>/dev/null && echo "${p#/proc/}"
  done
}

# fx_ns_kill NETNS [SIGNAL]: send SIGNAL (default KILL) to every process of NETNS until none is
# left (a dying slurmstepd may still fork). TERM first gives daemons 5 s to exit on their own.
fx_ns_kill() {
  local ns=$1 sig=${2:-KILL} n pids
  if [ "$sig" = TERM ]; then
    pids=$(fx_ns_pids "$ns"); [ -n "$pids" ] && kill -TERM $pids 2>/dev/null
    for n in $(seq 25); do [ -z "$(fx_ns_pids "$ns")" ] && return 0; sleep 0.2; done
  fi
  for n in $(seq 50); do
    pids=$(fx_ns_pids "$ns"); [ -z "$pids" ] && return 0
    kill -KILL $pids 2>/dev/null; sleep 0.1
  done
  say "processes left in $ns: $(fx_ns_pids "$ns" | tr '\n' ' ')"; return 1
}

# fx_node_start DIR NODE: start NODE's slurmd in the node's network namespace, in a new UTS
# namespace (hostname NODE) and a private mount namespace in which DIR/tmp (Slurm's TmpFS, where
# the PMIx plugin makes its per-job directories) is the node's own DIR/node/NODE/tmp, /dev/shm
# is a fresh tmpfs (node-local shared memory) and /etc/hosts names the cluster's hosts.
# `nsenter --net` keeps /sys (and the cgroup mounts slurmd reads), which `ip netns exec` remounts.
fx_node_start() {
  local dir=$1 node=$2
  mkdir -p "$dir/node/$node/tmp" "$dir/spool/slurmd-$node" && chmod 1777 "$dir/node/$node/tmp"
  fx_start "$dir" "slurmd-$node" nsenter --net="/run/netns/$node" -- \
    unshare --uts --mount --propagation private -- /bin/sh -c '
      hostname "$1" && mount --bind "$2/node/$1/tmp" "$2/tmp" &&
      mount -t tmpfs -o size=2g,mode=1777 "shm-$1" /dev/shm &&
      mount --bind "$2/etc/hosts" /etc/hosts && exec slurmd -D -N "$1" -f "$2/etc/slurm.conf"' sh "$node" "$dir"
}

# fx_load DIR: read DIR/cluster.vars (ID, NET, BRIDGE, CTL, NODES, ...) into the shell.
fx_load() {
  [ -f "$1/cluster.vars" ] || return 1
  . "$1/cluster.vars"
}
