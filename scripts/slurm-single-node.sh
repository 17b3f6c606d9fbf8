#!/usr/bin/env bash
# Starts, stops and inspects a one-machine Slurm cluster for testing job arrays (Debian 12, as
# root, no cgroups). Config, state, spool, logs and pid files live in DIR; only the munge key
# (/etc/munge/munge.key) and munged's socket (/run/munge) are system-wide.
#   scripts/slurm-single-node.sh start DIR   # stdout's last line: export SLURM_CONF=DIR/slurm.conf
#   scripts/slurm-single-node.sh status DIR  # daemons, sinfo, squeue
#   scripts/slurm-single-node.sh stop DIR    # cancels jobs, stops the daemons started from DIR
# Typical use: eval "$(scripts/slurm-single-node.sh start /tmp/slurm | tail -1)"
set -euo pipefail

prog=slurm-single-node
say() { echo "$prog: $*" >&2; }
die() { echo "$prog: error: $*" >&2; exit 1; }

[ $# -eq 2 ] || { echo "usage: $0 start|stop|status DIR" >&2; exit 2; }
cmd=$1
[ -n "$2" ] || die "DIR is empty"
[[ $2 != *[[:space:]]* ]] || die "DIR must not contain whitespace (slurm.conf paths): '$2'"
dir=$(realpath -m -- "$2")
conf=$dir/slurm.conf
export SLURM_CONF=$conf
export PATH=$PATH:/usr/sbin:/sbin
daemons=(slurmd slurmctld munged)   # stop order; started in reverse
ready_states='^(idle|mixed|allocated|completing)$'

# True while pid $1 exists and is not a zombie.
alive() {
  local st
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}

# Prints the pid recorded in DIR/NAME.pid if that process is alive and is NAME.
live_pid() {
  local f=$dir/$1.pid pid
  [ -s "$f" ] || return 1
  pid=$(tr -dc 0-9 < "$f")
  [ -n "$pid" ] && alive "$pid" || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ] || return 1
  echo "$pid"
}

# Waits up to $2 seconds for DIR/$1.pid to name a live $1; prints the pid.
wait_pid() {
  local i
  for ((i = 0; i < $2 * 5; i++)); do
    live_pid "$1" && return 0
    sleep 0.2
  done
  return 1
}

# Sends SIGTERM to pid $2 (daemon $1), waits up to 30 s, then SIGKILL.
stop_pid() {
  local name=$1 pid=$2 i
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do
    alive "$pid" || { say "stopped $name (pid $pid)"; return 0; }
    sleep 0.2
  done
  say "$name (pid $pid) ignored SIGTERM for 30 s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 25; i++)); do
    alive "$pid" || return 0
    sleep 0.2
  done
  die "$name (pid $pid) is still running"
}

need_root() { [ "$(id -u)" = 0 ] || die "must run as root"; }

install_packages() {
  local missing=0 c
  for c in slurmctld slurmd sbatch munged mungekey; do
    command -v "$c" >/dev/null || missing=1
  done
  [ $missing = 1 ] || return 0
  say "installing slurm-wlm munge with apt-get (log: $dir/log/apt.log)"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq slurm-wlm munge; } > "$dir/log/apt.log" 2>&1 ||
    { tail -n 5 "$dir/log/apt.log" >&2; die "apt-get install slurm-wlm munge failed"; }
  if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    die "slurmctld or munged still missing after apt-get install"
  fi
}

start_munge() {
  local key=/etc/munge/munge.key pid i
  if [ ! -s "$key" ]; then
    say "creating $key"
    mkdir -p /etc/munge
    mungekey --create --keyfile="$key" || die "mungekey failed to create $key"
  fi
  chown munge:munge "$key" || die "cannot chown $key to munge"
  chmod 400 "$key" || die "cannot chmod $key"
  if pid=$(live_pid munged); then
    say "munged already running (pid $pid)"
    return 0
  fi
  rm -f "$dir/munged.pid"
  if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    say "using the munged already running on this machine (not started from $dir; stop leaves it)"
    return 0
  fi
  install -d -o munge -g munge -m 0755 /run/munge
  rm -f /run/munge/munged.pid
  runuser -u munge -- munged < /dev/null >> "$dir/log/munged.out" 2>&1 ||
    { tail -n 5 "$dir/log/munged.out" >&2; die "munged failed to start"; }
  for ((i = 0; i < 50; i++)); do
    [ -s /run/munge/munged.pid ] && break
    sleep 0.2
  done
  [ -s /run/munge/munged.pid ] || die "munged wrote no /run/munge/munged.pid"
  cp /run/munge/munged.pid "$dir/munged.pid"
  pid=$(live_pid munged) || die "munged is not running after start"
  munge -n | unmunge >/dev/null 2>&1 || die "munge -n | unmunge fails with munged pid $pid"
  say "started munged (pid $pid)"
}

write_conf() {
  local node cpus mem
  node=$(hostname -s)
  [ -n "$node" ] || die "hostname -s gave no name"
  cpus=$(nproc)
  mem=$(free -m | awk '/^Mem:/ {print int($2 * 0.9)}')
  [ "${mem:-0}" -gt 0 ] || die "cannot read total memory from free -m"
  cat > "$conf" <<EOF
# One-node test cluster written by scripts/slurm-single-node.sh; paths are inside $dir.
ClusterName=testcluster
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
ReturnToService=2
SlurmdTimeout=30
SlurmctldTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=300
DependencyParameters=kill_invalid_depend
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
}

# Starts slurmctld or slurmd ($1) from DIR unless it already runs; refuses a foreign one.
start_slurm_daemon() {
  local name=$1 pid other
  if pid=$(live_pid "$name"); then
    say "$name already running (pid $pid)"
    return 0
  fi
  for other in $(pgrep -x "$name" || true); do
    if alive "$other"; then
      die "a $name not started from $dir is running (pid $other); stop it first"
    fi
  done
  if ! "$name" -f "$conf" < /dev/null >> "$dir/log/$name.out" 2>&1; then
    tail -n 5 "$dir/log/$name.out" "$dir/log/$name.log" >&2 2>/dev/null || true
    die "$name failed to start (see $dir/log/$name.log)"
  fi
  if ! pid=$(wait_pid "$name" 15); then
    tail -n 5 "$dir/log/$name.log" >&2 2>/dev/null || true
    die "$name exited after start (see $dir/log/$name.log)"
  fi
  say "started $name (pid $pid)"
}

node_state() { sinfo -h -n "$(hostname -s)" -o %T 2>/dev/null | head -n 1 || true; }

# True once the node is usable and, given $1 (YYYY-MM-DDTHH:MM:SS), its slurmd registered since
# then: a restarted slurmctld reports the node state it recovered before slurmd has registered.
node_ready() {
  local state registered
  state=$(node_state)
  [[ $state =~ $ready_states ]] || return 1
  [ -n "$1" ] || return 0
  registered=$(scontrol -o show node "$(hostname -s)" 2>/dev/null |
                 sed -n 's/.*SlurmdStartTime=\([^ ]*\).*/\1/p')
  [[ $registered > $1 || $registered == "$1" ]]
}

do_start() {
  local t0=$SECONDS since="" i ctld=0 slurmd=0
  need_root
  mkdir -p "$dir/log" "$dir/state" "$dir/spool"
  install_packages
  live_pid slurmctld >/dev/null && ctld=1
  live_pid slurmd >/dev/null && slurmd=1
  if [ $ctld = 1 ] && [ $slurmd = 1 ] && live_pid munged >/dev/null; then
    say "already running from $dir"
    sinfo >&2 || true
    printf 'export SLURM_CONF=%q\n' "$conf"
    return 0
  fi
  start_munge
  if [ $ctld = 0 ] && [ $slurmd = 0 ]; then
    write_conf
  else
    [ -s "$conf" ] || die "a daemon runs from $dir but $conf is missing"
  fi
  start_slurm_daemon slurmctld
  [ $slurmd = 1 ] || since=$(date +%FT%T)
  start_slurm_daemon slurmd
  for ((i = 0; i < 120; i++)); do
    node_ready "$since" && break
    sleep 0.5
  done
  if ! node_ready "$since"; then
    sinfo -R >&2 || true
    die "node $(hostname -s) not idle after 60 s (state '$(node_state)'; logs in $dir/log)"
  fi
  say "cluster up in $((SECONDS - t0)) s: node $(hostname -s) $(node_state)"
  printf 'export SLURM_CONF=%q\n' "$conf"
}

do_stop() {
  local name pid any=0 i p left=()
  local -a jobs=()
  need_root
  if live_pid slurmctld >/dev/null; then
    mapfile -t jobs < <(squeue -h -o %A 2>/dev/null || true)
    if [ ${#jobs[@]} -gt 0 ]; then
      say "cancelling jobs: ${jobs[*]}"
      scancel "${jobs[@]}" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do
        [ -z "$(squeue -h -o %A 2>/dev/null || true)" ] && break
        sleep 0.2
      done
    fi
  fi
  for name in "${daemons[@]}"; do
    if pid=$(live_pid "$name"); then
      any=1
      stop_pid "$name" "$pid"
    fi
    rm -f "$dir/$name.pid"
  done
  [ $any = 1 ] || say "nothing running from $dir"
  for p in $(pgrep -x slurmstepd || true); do
    if alive "$p"; then left+=("$p"); fi
  done
  [ ${#left[@]} -eq 0 ] || say "warning: slurmstepd still running: ${left[*]}"
  return 0
}

do_status() {
  local name pid down=0
  for name in munged slurmctld slurmd; do
    if pid=$(live_pid "$name"); then
      echo "$name: running (pid $pid)"
    elif [ "$name" = munged ] && munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
      echo "munged: running (not started from $dir)"
    else
      echo "$name: not running"
      down=1
    fi
  done
  if live_pid slurmctld >/dev/null; then
    sinfo
    squeue
  fi
  [ $down = 0 ] || die "cluster in $dir is not fully running"
}

case $cmd in
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  *) echo "usage: $0 start|stop|status DIR" >&2; exit 2 ;;
esac
