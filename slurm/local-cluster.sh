#!/usr/bin/env bash
# A throw-away single-node Slurm cluster (Debian slurm-wlm 22.05 + munge) living entirely in one
# folder, with its own ports, munge socket and SLURM_CONF. For the end-to-end tests; never for
# production.
#
#   slurm/local-cluster.sh start DIR [CPUS]   start munged, slurmctld and slurmd; print env lines
#   slurm/local-cluster.sh stop DIR           cancel every job, wait for an empty queue, stop daemons
#   slurm/local-cluster.sh env DIR            print `export SLURM_CONF=...` for client commands
#
# Why each setting (found running 22.05 as root in a container): no systemd or cgroups here, so
# proctrack/linuxproc, task/none, jobacct_gather/none; state, spool, logs and pids under DIR; the
# munge socket in a folder every user can traverse (mode 711) with a path under 108 bytes;
# cred_expire=10 so a requeued job restarts in seconds; sched_interval=1 so tests don't wait a
# minute for the scheduler.
set -euo pipefail
cmd=${1:?usage: local-cluster.sh start|stop|env DIR [CPUS]}
dir=${2:?usage: local-cluster.sh start|stop|env DIR [CPUS]}
dir=$(cd "$dir" 2>/dev/null && pwd || { mkdir -p "$dir" && cd "$dir" && pwd; })
conf="$dir/etc/slurm.conf"
sock_dir="$dir/munge"

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_for() {  # seconds description command...
  local t=$1 what=$2; shift 2
  for _ in $(seq $((t * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "local-cluster: $what did not come up; logs in $dir/log" >&2
  return 1
}

stop_pid() {  # pidfile
  [ -f "$1" ] || return 0
  local pid; pid=$(cat "$1")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 50); do
    # Gone, or a zombie (its parent has not reaped it): either way no longer running.
    if ! kill -0 "$pid" 2>/dev/null || grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; then break; fi
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$1"
}

case "$cmd" in
  start)
    cpus=${3:-$(nproc)}
    if [ ${#sock_dir} -gt 90 ]; then echo "local-cluster: $dir is too deep for a munge socket path" >&2; exit 2; fi
    mkdir -p "$dir"/{etc,log,run,state,spool,munge,munge-state}
    chmod 711 "$dir" "$sock_dir"
    # munge: a 1 KiB key readable by its owner only.
    if [ ! -f "$dir/etc/munge.key" ]; then
      head -c 1024 /dev/urandom > "$dir/etc/munge.key"
      chmod 400 "$dir/etc/munge.key"
    fi
    munged --key-file="$dir/etc/munge.key" --socket="$sock_dir/munge.socket" \
      --pid-file="$dir/run/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge-state/seed" \
      --force
    wait_for 5 munged test -S "$sock_dir/munge.socket"
    ctl_port=$(free_port); d_port=$(free_port)
    host=$(hostname -s)
    mem=$(awk '/MemTotal/{print int($2/1024) - 1024}' /proc/meminfo)
    cat > "$conf" <<CONF
ClusterName=lineage-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctl_port
SlurmdPort=$d_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock_dir/munge.socket,cred_expire=10
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
MpiDefault=pmix
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=300
JobRequeue=1
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
    export SLURM_CONF="$conf"
    slurmctld -f "$conf"
    wait_for 10 slurmctld scontrol ping
    slurmd -f "$conf"
    wait_for 15 slurmd sh -c "sinfo -h -o %T | grep -Eq '^(idle|mixed|allocated)'"
    echo "export SLURM_CONF=$conf"
    ;;
  stop)
    export SLURM_CONF="$conf"
    if [ -f "$conf" ] && [ -f "$dir/run/slurmctld.pid" ]; then
      # Running jobs outlive slurmd: cancel them and wait for an empty queue first.
      scancel --full --user=root >/dev/null 2>&1 || true
      for _ in $(seq 150); do
        [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
        sleep 0.2
      done
    fi
    stop_pid "$dir/run/slurmd.pid"
    stop_pid "$dir/run/slurmctld.pid"
    stop_pid "$dir/run/munged.pid"
    ;;
  env)
    echo "export SLURM_CONF=$conf"
    ;;
  *)
    echo "usage: local-cluster.sh start|stop|env DIR [CPUS]" >&2
    exit 2
    ;;
esac
