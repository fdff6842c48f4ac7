#!/usr/bin/env bash
# make demo: a real cms session against the sandbox ('cms sandbox start': moto's EC2 and
# an SSH server playing its VMs on 127.0.0.1), then the lab's two Python programs, then
# 'cms sandbox stop'. Nothing leaves this machine; the configuration lives in a throwaway
# HOME, so your own ~/.cloudmesh and ~/.aws are neither read nor changed.
set -euo pipefail

examples="$(cd "$(dirname "$0")/../examples" && pwd)"
workdir=$(mktemp -d)
export HOME="$workdir"
export CLOUDMESH_CONFIG_DIR="$workdir/.cloudmesh"
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL
cleanup() { cms sandbox stop >/dev/null 2>&1 || true; rm -rf "$workdir"; }
trap cleanup EXIT

run() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
# lists of the emulated EC2 are long (over a thousand images and flavors): the demo
# shows the first N rows under the HEADER lines (1 for csv, 2 for a table) and says how
# many there were (the list is read whole: under pipefail, a pipe into head that cuts a
# writer off would end the demo)
first() {
    local n=$1 header=$2 listed total; shift 2
    printf '\n\033[1m$ %s\033[0m\n' "$*"
    listed=$("$@")
    total=$(( $(wc -l <<<"$listed") - header ))
    head -n $(( header + n )) <<<"$listed"
    if (( total > n )); then printf '(first %s of %s)\n' "$n" "$total"; fi
}

run cms version
run cms init --user=demo
run cms sandbox start
run cms sandbox status
run cms config cat
run cms check sandbox
run cms set cloud=sandbox
run cms key gen demo-key
run cms secgroup add web --description="demo web servers"
run cms secgroup rule add web tcp 80:443 0.0.0.0/0
run cms secgroup rule add web tcp 22 0.0.0.0/0
run cms vm boot --name='web[01-03]' --key=demo-key --secgroup=web --wait --timeout=60
run cms vm list
run cms vm info web01 --output=yaml
run cms vm ssh web01 --command='uname -a'
first 5 1 cms image list --output=csv
run cms image show ami-1e749f67
first 6 2 cms flavor list
run cms flavor show t3.micro --output=yaml
run cms vm stop 'web[01-02]' --wait --timeout=60
run cms vm status 'web[01-03]'
run cms vm start web01,web02 --wait --timeout=60
run cms vm delete 'web[01-03]' --wait --timeout=60
run cms vm list
# the sandbox's Multipass stand-in (none when Multipass is installed: then the real one)
standin=$(cms sandbox status --output=json | python -c \
    'import json, sys; print(*[c for c in json.load(sys.stdin)["clouds"].split(",") if "multipass" in c][:1])')
run cms multipass images ${standin:+--cloud="$standin"}
printf '\nAnd the errors, each one line with its exit code:\n'
run cms vm info web99 || echo "(exit code $?)"
run cms vm list --cloud=elsewhere || echo "(exit code $?)"
run cms vm boot --name=bad --image=ami-00000000 || echo "(exit code $?)"
printf '\nThe lab from Python (examples/): part 1 lists, part 2 makes a key and a group,\n'
printf 'boots a VM with them, runs uname -a on it over SSH and deletes it:\n'
run python "$examples/list_cloud.py" sandbox
run python "$examples/keys_and_groups.py" sandbox
run cms sandbox stop
printf '\nDemo done: the sandbox stopped, the throwaway HOME removed.\n'
