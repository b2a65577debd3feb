# Process helpers shared by the bench scripts (sourced, not run): every
# process a bench starts is recorded, dies with the bench even on SIGKILL,
# and is stopped by stop_started.
# shellcheck shell=bash

# Processes this script started; stop_started kills exactly these pids.
started_pids=()

# Seconds stop_started waits after SIGTERM before SIGKILL.
STOP_GRACE=${STOP_GRACE:-10}

is_pos_int() { [[ "$1" =~ ^[1-9][0-9]*$ ]]; }

# spawn LOG CMD...: run CMD in the background, stdout and stderr to LOG,
# under `setpriv --pdeathsig KILL` when there is one (it execs CMD, so the
# pid stays CMD's own, and CMD dies with this script even on SIGKILL);
# records the pid in started_pids.
spawn() {
  local log=$1
  shift
  if command -v setpriv >/dev/null; then
    setpriv --pdeathsig KILL -- "$@" </dev/null >>"$log" 2>&1 &
  else
    "$@" </dev/null >>"$log" 2>&1 &
  fi
  started_pids+=($!)
}

# run_wait OUT CMD...: run CMD with stdout to the file OUT (stderr passes
# through) and wait for it; returns CMD's exit status. Unlike CMD in the
# foreground or in $(...), a trapped Ctrl-C/SIGTERM of this script runs its
# trap at once, and stop_started stops CMD too (it dies with this script
# even on SIGKILL, as with spawn).
run_wait() {
  local out=$1 pid rc=0 p others=()
  shift
  if command -v setpriv >/dev/null; then
    setpriv --pdeathsig KILL -- "$@" >"$out" &
  else
    "$@" >"$out" &
  fi
  pid=$!
  started_pids+=("$pid")
  wait "$pid" || rc=$?
  for p in "${started_pids[@]}"; do
    [[ "$p" == "$pid" ]] || others+=("$p")
  done
  started_pids=("${others[@]}")
  return "$rc"
}

# stop_started: SIGTERM each pid we started, wait up to $STOP_GRACE
# seconds, then SIGKILL.
stop_started() {
  local pid end
  for pid in "${started_pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  end=$((SECONDS + STOP_GRACE))
  for pid in "${started_pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < end)); do sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  started_pids=()
}

