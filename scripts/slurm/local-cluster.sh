#!/usr/bin/env bash
# A one-machine Slurm cluster (controller and node on 127.0.0.1, one partition "local") for
# trying the job-array recipe and for the test that runs it; everything lives under DIR and
# nothing outside it is touched (own munge key and socket, own ports 16817/16818).
#
#   scripts/slurm/local-cluster.sh start DIR    # prints: export SLURM_CONF=DIR/slurm.conf
#   SLURM_CONF=DIR/slurm.conf sbatch --array=0-2 --wait …
#   scripts/slurm/local-cluster.sh stop DIR
#
# Needs Debian's `slurmd slurmctld munge` (Slurm 22.05) and root (slurmd runs jobs as their
# user). Settings and pitfalls: ../../../shared/TOOLCHAIN.md's Slurm section.
set -euo pipefail

action=${1:?start or stop}
dir=$(mkdir -p "${2:?DIR}" && cd "$2" && pwd)
export SLURM_CONF="$dir/slurm.conf"

stop() {
  scontrol shutdown >/dev/null 2>&1 || true
  for pid in "$dir"/slurmd.pid "$dir"/slurmctld.pid "$dir"/munged.pid; do
    [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null || true
  done
  # Give the daemons a moment to go, so a following start finds the ports free.
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    pgrep -f "$dir" >/dev/null 2>&1 || break
    sleep 0.5
  done
}

case "$action" in
  stop) stop; exit 0 ;;
  start) ;;
  *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac

for tool in munged mungekey slurmctld slurmd sbatch sinfo; do
  command -v "$tool" >/dev/null || { echo "$tool not found: apt-get install slurmd slurmctld munge" >&2; exit 3; }
done
host=$(hostname -s)
mkdir -p "$dir/state" "$dir/spool"
cat > "$dir/slurm.conf" <<CONF
ClusterName=robustdx
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge.sock
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldPort=16817
SlurmdPort=16818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MailProg=/bin/true
MinJobAge=5
JobAcctGatherType=jobacct_gather/none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
# slurmd always loads a cgroup plugin; the automatic choice fails on cgroup-v2 hosts.
echo "CgroupPlugin=cgroup/v1" > "$dir/cgroup.conf"
[ -f "$dir/munge.key" ] || mungekey -c -k "$dir/munge.key" -f >/dev/null
chmod 600 "$dir/munge.key"
munged --force --key-file="$dir/munge.key" --socket="$dir/munge.sock" \
  --pid-file="$dir/munged.pid" --log-file="$dir/munged.log" --seed-file="$dir/munge.seed"
slurmctld || { cat "$dir/slurmctld.log" >&2; stop; exit 1; }
slurmd || { cat "$dir/slurmd.log" >&2; stop; exit 1; }
# Ready when the node is idle.
for _ in $(seq 1 40); do
  if sinfo -h -o %t 2>/dev/null | grep -q idle; then
    echo "export SLURM_CONF=$SLURM_CONF"
    exit 0
  fi
  sleep 0.5
done
echo "the node did not come up:" >&2
tail -n 20 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
stop
exit 1
