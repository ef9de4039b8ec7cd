#!/usr/bin/env bash
# Runs mpirun so that SIGTERM and SIGINT checkpoint the run instead of killing it: Open MPI's
# mpirun (4.1) answers SIGTERM/SIGINT by killing its ranks and exiting 1 whatever they do, but it
# forwards SIGUSR1, on which every `lineage compare` rank finishes its unit, makes its journal
# durable and exits 7 (then mpirun exits 7 too: rerun with --resume).
# Usage: scripts/mpirun-checkpoint.sh [mpirun options] lineage compare ...
mpirun "$@" &
pid=$!
forward() { kill -USR1 "$pid" 2>/dev/null; }
trap forward TERM INT
while :; do
  wait "$pid"
  code=$?
  # wait returns early (>128) when a trapped signal arrives; mpirun itself is still running then.
  kill -0 "$pid" 2>/dev/null || exit $code
done
