#!/usr/bin/env bash
# make demo: a real cms session against moto's EC2 server on 127.0.0.1.
# Nothing leaves this machine; the configuration lives in a throwaway directory.
set -euo pipefail

workdir=$(mktemp -d)
port=$(python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export CLOUDMESH_CONFIG_DIR="$workdir/cloudmesh"
export HOME="$workdir"            # no ~/.aws of yours is read
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL
# moto validates AMIs and instance types as EC2 does, so the demo fails where EC2 would
export MOTO_ENABLE_AMI_VALIDATION=true MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION=true

moto_server -H 127.0.0.1 -p "$port" >"$workdir/moto.log" 2>&1 &
moto_pid=$!
cleanup() { kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; rm -rf "$workdir"; }
trap cleanup EXIT
python - "$port" <<'PY'
import socket, sys, time
deadline = time.time() + 30
while time.time() < deadline:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.2).close()
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("moto's server did not start")
PY

mkdir -p "$CLOUDMESH_CONFIG_DIR"
cat >"$CLOUDMESH_CONFIG_DIR/cloudmesh.yaml" <<YAML
cloudmesh:
  profile:
    user: demo
  default:
    cloud: demo
  compute:
    demo:
      cm:
        kind: aws
        label: moto's EC2 on 127.0.0.1:$port
      credentials:
        region: us-east-1
        endpoint_url: http://127.0.0.1:$port
        access_key_id: \${DEMO_AWS_KEY_ID}
        secret_access_key: \${DEMO_AWS_SECRET}
      default:
        image: ami-1e749f67              # moto's Ubuntu 14.04 AMI
        flavor: t3.micro
        username: ubuntu
YAML
chmod 600 "$CLOUDMESH_CONFIG_DIR/cloudmesh.yaml"
export DEMO_AWS_KEY_ID=demo DEMO_AWS_SECRET=demo-not-a-secret

run() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

run cms version
run cms provider list
run cms config cat
run cms check
run cms init                       # seeds the local security group 'default' (the yaml exists)
run cms key gen demo-key
run cms key upload demo-key --cloud=demo
run cms secgroup add web --description="demo web servers"
run cms secgroup rule add web tcp 80:443 0.0.0.0/0
run cms secgroup rule add web tcp 22 0.0.0.0/0
run cms secgroup upload web --cloud=demo
run cms vm boot --name='web[01-03]' --key=demo-key --secgroup=web --wait --timeout=60
run cms vm list
run cms vm info web01 --output=yaml
run cms vm list --output=json
run cms image list --output=csv | head -5
run cms image show ami-1e749f67
run cms flavor list | head -8
run cms flavor show t3.micro --output=yaml
run cms vm stop 'web[01-02]' --wait --timeout=60
run cms vm status 'web[01-03]'
run cms vm start web01,web02 --wait --timeout=60
run cms vm delete 'web[01-03]' --wait --timeout=60
run cms vm list
printf '\nAnd the errors, each one line with its exit code:\n'
run cms vm info web99 || echo "(exit code $?)"
run cms vm list --cloud=elsewhere || echo "(exit code $?)"
run cms vm boot --name=bad --image=ami-00000000 || echo "(exit code $?)"
printf '\nThe same from Python: examples/lab.py (README, "Use from Python") lists, boots a VM,\n'
printf 'runs a command on it over SSH and deletes it. Moto runs no VMs, so an SSH server on\n'
printf '127.0.0.1 plays the VM, reached through ssh_host/ssh_port as through a tunnel:\n'
python - "$workdir/sshd" "$CLOUDMESH_CONFIG_DIR/keys/demo-key.pub" \
    >"$workdir/sshd.port" 2>"$workdir/sshd.log" <<'PY' &
import signal, sys
from pathlib import Path
from cloudmesh.compute.testing.sshd import start_ssh_server
server = start_ssh_server(Path(sys.argv[1]),
                          authorized_keys=[Path(sys.argv[2]).read_text().strip()])
def stop(*_):
    server.stop()
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
print(server.port, server.user, flush=True)
while True:
    signal.pause()
PY
sshd_pid=$!
trap 'kill "$sshd_pid" 2>/dev/null || true; wait "$sshd_pid" 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 300); do [ -s "$workdir/sshd.port" ] && break; sleep 0.1; done
[ -s "$workdir/sshd.port" ] || { cat "$workdir/sshd.log" >&2; echo "the demo's SSH server did not start" >&2; exit 1; }
read -r sshd_port sshd_user <"$workdir/sshd.port"
run cms set demo.ssh_host=127.0.0.1 "demo.ssh_port=$sshd_port" demo.key=demo-key \
    "demo.username=$sshd_user"
run python "$(dirname "$0")/../examples/lab.py" demo
printf '\nDemo done: moto stopped, throwaway config removed.\n'
