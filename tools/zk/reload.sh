#!/usr/bin/env bash
# ZooKeeper mode's failover cost, for comparison with keel's broker catch-up: a 3-server
# ZooKeeper 3.8 ensemble (the anchor's settings, ../shared/anchors/zk/run.sh) gets Kafka's
# partition-state tree for T topics x P partitions (the anchor's LoadGen), then ReadAll.java
# times what a ZooKeeper-mode controller does when it takes over: list every topic's
# partitions and read every state znode.
# usage: tools/zk/reload.sh [--topics 1000] [--partitions 1000] [--disk /tmp]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ANCHOR=$(cd "$HERE/../../../shared/anchors/zk" && pwd)
TOPICS=1000; PARTS=1000; DISK=/tmp
while [ $# -gt 0 ]; do
  case "$1" in
    --topics) TOPICS=$2; shift 2 ;;
    --partitions) PARTS=$2; shift 2 ;;
    --disk) DISK=$2; shift 2 ;;
    *) echo "usage: reload.sh [--topics T] [--partitions P] [--disk DIR]" >&2; exit 2 ;;
  esac
done
JARS=/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar
[ -f /usr/share/java/zookeeper.jar ] || { echo "error: ZooKeeper is not installed (apt-get install zookeeper)" >&2; exit 1; }
BUILD=$(mktemp -d /tmp/keel-zk-reload-build.XXXXXX)
RUN=$(mktemp -d /tmp/keel-zk-reload-run.XXXXXX)
PIDS=(); DATA=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$p" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -rf "${DATA[@]}" "$BUILD"
  echo "zk_logs: $RUN"
}
trap cleanup EXIT
javac -cp "$JARS" -d "$BUILD" "$ANCHOR/LoadGen.java" "$HERE/ReadAll.java"
cport() { echo $((22180 + $1)); }
for i in 1 2 3; do
  for port in "$(cport "$i")" $((22887 + i)) $((23887 + i)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && { echo "error: port $port in use" >&2; exit 1; }
  done
done
for i in 1 2 3; do
  d=$(mktemp -d "$DISK/keel-zk-reload$i.XXXXXX"); DATA+=("$d")
  mkdir -p "$d/data" "$d/log"; echo "$i" > "$d/data/myid"
  {
    echo "tickTime=2000"; echo "initLimit=10"; echo "syncLimit=5"
    echo "dataDir=$d/data"; echo "dataLogDir=$d/log"; echo "clientPort=$(cport "$i")"
    echo "clientPortAddress=127.0.0.1"; echo "forceSync=yes"; echo "admin.enableServer=false"
    echo "4lw.commands.whitelist=srvr"; echo "maxClientCnxns=0"
    for j in 1 2 3; do echo "server.$j=127.0.0.1:$((22887 + j)):$((23887 + j))"; done
  } > "$RUN/zoo$i.cfg"
  # A larger heap than the anchor's 1 GiB: a million partitions are two million znodes.
  java -Xms512m -Xmx4g -Dzookeeper.forceSync=yes -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
    -cp "$JARS" org.apache.zookeeper.server.quorum.QuorumPeerMain "$RUN/zoo$i.cfg" \
    > "$RUN/zk$i.log" 2>&1 &
  PIDS+=($!)
done
mode() { ( exec 3<>"/dev/tcp/127.0.0.1/$(cport "$1")"; echo srvr >&3; sed -n 's/^Mode: //p' <&3 ) 2>/dev/null || true; }
LEADER=""
for _ in $(seq 120); do
  modes=""; LEADER=""
  for i in 1 2 3; do m=$(mode "$i"); modes+="${m:-down} "; [ "$m" = leader ] && LEADER=$i; done
  [[ -n "$LEADER" && "$modes" != *down* ]] && break
  sleep 0.5
done
[ -n "$LEADER" ] || { echo "error: no quorum ($modes)" >&2; exit 1; }
CONNECT=127.0.0.1:$(cport "$LEADER")
echo "zk_servers: 3 (leader server$LEADER), data on $DISK"
# Build the tree; the setData load itself is as short as LoadGen allows.
java -Xmx2g -Dorg.slf4j.simpleLogger.defaultLogLevel=error -cp "$BUILD:$JARS" \
  LoadGen --connect "$CONNECT" --topics "$TOPICS" --partitions "$PARTS" --outstanding 1 \
  --warmup 0 --duration 0.1 | grep -E "znodes_created|create_ops_per_s"
# A new controller connects to a follower as often as to the leader: read from a follower.
FOLLOWER=127.0.0.1:$(cport $(( LEADER % 3 + 1 )))
java -Xmx2g -Dorg.slf4j.simpleLogger.defaultLogLevel=error -cp "$BUILD:$JARS" \
  ReadAll --connect "$FOLLOWER"
