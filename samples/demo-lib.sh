# demo-lib.sh — sourced by the demo scripts: where binaries and outputs
# live, and `run`, which shows a command line before running it.
BIN=${RUNNEL_BIN:-bin}
OUT=${DEMO_DIR:-build/demo}
mkdir -p "$OUT"
if [ -t 1 ]; then B='\033[1m' N='\033[0m'; else B= N=; fi
say() { printf "\n${B}\$ %s${N}\n" "$*"; }
run() { say "$*"; sh -c "$*"; }
