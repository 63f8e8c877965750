#!/bin/bash
# The hand-written way (what the guide suggests, done carefully): submit the head, poll qstat until
# it runs and has written its address, then submit the workers, poll `ray status` until they joined.
# Usage: baseline-up.sh WORKDIR RAY_VENV   (run as the user; prints the head and worker job ids)
set -euo pipefail
W=$1; V=$2; mkdir -p "$W"; rm -f "$W/addr"
cat > "$W/head.sh" <<EOS
#!/bin/bash
PORT=\$($V/bin/python -c 'import socket; s=socket.socket(); s.bind(("",0)); print(s.getsockname()[1])')
IP=\$(getent ahostsv4 \$(hostname) | awk '{print \$1; exit}')
echo "\$IP:\$PORT" > $W/addr.tmp && mv $W/addr.tmp $W/addr
exec $V/bin/ray start --head --block --port=\$PORT --node-ip-address=\$IP --temp-dir=\$TMP/ray --num-cpus=1 --include-dashboard=false --disable-usage-stats
EOS
H=$(qsub -terse -N bl-head -S /bin/bash -o /dev/null -j y -pe smp 1 "$W/head.sh")
until [ -s "$W/addr" ]; do sleep 0.5; done
A=$(cat "$W/addr")
cat > "$W/worker.sh" <<EOS
#!/bin/bash
IP=\$(getent ahostsv4 \$(hostname) | awk '{print \$1; exit}')
exec $V/bin/ray start --block --address=$A --node-ip-address=\$IP --temp-dir=\$TMP/ray --num-cpus=1 --disable-usage-stats
EOS
WK=$(qsub -terse -N bl-worker -t 1-2 -S /bin/bash -o /dev/null -j y -pe smp 1 "$W/worker.sh" | cut -d. -f1)
until [ "$($V/bin/python -c "
import sys
from ray._raylet import GcsClient
print(sum(1 for n in GcsClient(address='$A').get_all_node_info(timeout=5).values() if n.state == 0 and not n.is_head_node))" 2>/dev/null)" = 2 ]; do sleep 0.5; done
echo "$H $WK $A"
