#!/usr/bin/env bash
# Loads the generated completion scripts into real bash, zsh and fish and
# asks them for completions, so a script that parses but completes nothing
# fails here. Usage: completion_scripts_test.sh SOURCE_DIR
set -euo pipefail
dir="$1/completions"
fail=0
expect() {  # expect NAME GOT WANT-SUBSTRING
  if [[ "$2" != *"$3"* ]]; then
    echo "FAIL $1: got [$2], want it to contain [$3]"
    fail=1
  else
    echo "ok   $1"
  fi
}

bash_complete() {  # bash_complete SCRIPT WORD...
  local script="$1"; shift
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1));
           f=$(complete -p "$1" | sed "s/.*-F \([^ ]*\).*/\1/"); $f;
           echo "${COMPREPLY[*]}"' _ "$script" "$@"
}

for p in nwctl nwagent; do
  bash -n "$dir/$p.bash"
  zsh -n "$dir/$p.zsh"
  fish --no-execute "$dir/$p.fish"
done

expect "bash nwctl commands" "$(bash_complete "$dir/nwctl.bash" nwctl '')" "status"
expect "bash nwctl -o value" "$(bash_complete "$dir/nwctl.bash" nwctl -o '')" "table json"
expect "bash nwctl global flag after command" \
  "$(bash_complete "$dir/nwctl.bash" nwctl --addr x status --ti)" "--timeout"
expect "bash nwctl completion shells" \
  "$(bash_complete "$dir/nwctl.bash" nwctl completion '')" "bash zsh fish"
expect "bash nwctl cluster verbs" \
  "$(bash_complete "$dir/nwctl.bash" nwctl cluster '')" "transfer-leader label"
expect "bash nwctl cluster status flags" \
  "$(bash_complete "$dir/nwctl.bash" nwctl cluster status --st)" "--stale"
expect "bash nwctl cluster label --remove" \
  "$(bash_complete "$dir/nwctl.bash" nwctl cluster label nw-1 --rem)" "--remove"
expect "bash nwagent flags" "$(bash_complete "$dir/nwagent.bash" nwagent --api-)" "--api-listen"
expect "bash nwagent log level" \
  "$(bash_complete "$dir/nwagent.bash" nwagent --log-level '')" "debug"

fish_complete() { fish -c "source $1; complete -C '$2'" | tr '\n' ' '; }
expect "fish nwctl commands" "$(fish_complete "$dir/nwctl.fish" 'nwctl ')" "status"
expect "fish nwctl -o value" "$(fish_complete "$dir/nwctl.fish" 'nwctl -o ')" "json"
expect "fish nwctl cluster verbs" \
  "$(fish_complete "$dir/nwctl.fish" 'nwctl cluster ')" "transfer-leader"
expect "fish nwagent flags" "$(fish_complete "$dir/nwagent.fish" 'nwagent --log-f')" "--log-format"

zsh_loads() {
  zsh -c "autoload -U compinit; compinit -u -d /tmp/nw-zcompdump-\$\$; source $1; whence -w $2"
}
expect "zsh nwctl loads" "$(zsh_loads "$dir/nwctl.zsh" _nwctl)" "function"
expect "zsh nwagent loads" "$(zsh_loads "$dir/nwagent.zsh" _nwagent)" "function"

exit "$fail"
