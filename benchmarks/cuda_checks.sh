#!/usr/bin/env bash
# The checks that need a CUDA GPU, as one timed run (S1.4.2, S1.5.1, S2.2–2.4):
#
#   1. the predictor's batch-1 FP16 latency (eager and CUDA graph) next to the spec's 1.6 ms;
#   2. training throughput with FP16 autocast, with and without the Grad-CAM alignment loss;
#   3. a synthetic gallery (USERS × IMAGES stills, 256 px) through synth → graph → persona → pat (SHARDS
#      processes side by side) → label on the machine's CPUs (PERSONA_DEVICE=cuda puts the GAT on the GPU);
#   4. `memoire train` at 224 px with the paper preset's batch, optimiser and loss on the GPU (FP16
#      autocast), for as many epochs as fit TRAIN_BUDGET seconds at the measured throughput (the paper's
#      150 when they fit; EPOCHS=N fixes it and skips 1–2), for the default model, then
#   5. `memoire eval --suite quick` on the test-split users: Memoire vs the baselines, Table 9; then the
#      rgb-only model (A2) and eval again when they fit before the deadline.
#
#   bash benchmarks/cuda_checks.sh WORKSPACE OUTDIR [USERS] [IMAGES]
#
# Environment: MEMOIRE (the command, default `memoire`), PYTHON (default python3), SHARDS (4),
# TRAIN_BUDGET (seconds per model, 100), DEADLINE (seconds for the whole run; steps that would start
# after it are skipped, 540), DEVICE (cuda; cpu rehearses the script on a small gallery),
# TRAIN_ARGS (more `memoire train` options, e.g. a smaller --batch-size for a rehearsal), BENCH_PAIRS
# (pairs per step of the throughput benchmark, 128). Everything is logged to OUTDIR/log.txt; OUTDIR/results.tar.gz holds the
# report summaries and the per-epoch training records.
set -uo pipefail
ws=$1
out=$2
users=${3:-20}
images=${4:-60}
memoire=${MEMOIRE:-memoire}
py=${PYTHON:-python3}
shards=${SHARDS:-4}
budget=${TRAIN_BUDGET:-100}
device=${DEVICE:-cuda}
read -r -a train_args <<<"${TRAIN_ARGS:-}"
deadline=${DEADLINE:-540}
here=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
log=$out/log.txt
t_start=$(date +%s)

say() { echo "[$(( $(date +%s) - t_start )) s] $*" | tee -a "$log" >&2; }
left() { echo $(( deadline - ($(date +%s) - t_start) )); }
run() {  # [NEED=seconds] run NAME CMD...: logged, timed, never fatal; skipped with less than NEED s left
  local name=$1 t0 rc
  shift
  if (( $(left) < ${NEED:-20} )); then say "skip $name: $(left) s left before the deadline"; return 1; fi
  say "start $name"
  t0=$(date +%s)
  "$@" >>"$log" 2>&1
  rc=$?
  say "end $name rc=$rc $(( $(date +%s) - t0 )) s"
  return $rc
}

say "host: $(nproc) CPUs; $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null)"
$py -c "import torch, numpy; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.is_available(), 'numpy', numpy.__version__)" >>"$log" 2>&1

if [[ -n ${EPOCHS:-} ]]; then say "EPOCHS=$EPOCHS given: benchmarks skipped"; else
run latency $py "$here/benchmarks/bench_train.py" latency --device "$device" --size 224
run throughput $py "$here/benchmarks/bench_train.py" throughput --device "$device" --size 224 --pairs "${BENCH_PAIRS:-128}"
pps=$(grep -o "L_align on : [0-9.]*" "$log" | tail -n 1 | awk '{print $4}')
say "measured training throughput: ${pps:-?} pairs/s"
fi

export OMP_NUM_THREADS=$(( $(nproc) / shards > 0 ? $(nproc) / shards : 1 ))
run synth "$memoire" synth -w "$ws" --user-count "$users" --seed 0 --images-per-user "$images" --image-size 256 --frames-per-clip 1
run graph "$memoire" graph -w "$ws"
sharded() {  # sharded STAGE ARGS...: SHARDS processes side by side
  local i pids=() rc=0 stage=$1
  shift
  for (( i = 0; i < shards; i++ )); do "$memoire" "$stage" -w "$ws" --shard "$i/$shards" "$@" >>"$log" 2>&1 & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  return $rc
}
# PERSONA-GAT on graphs of ≤ 500 nodes is no faster on the GPU (H200: 8.6 s per user, one user at a time);
# SHARDS CPU processes side by side finish sooner
run persona sharded persona --device "${PERSONA_DEVICE:-cpu}" || run persona-again "$memoire" persona -w "$ws" --device cpu
run pat sharded pat || run pat-again "$memoire" pat -w "$ws"
run label "$memoire" label -w "$ws"
unset OMP_NUM_THREADS

pairs=$($py - "$ws" <<'EOF' 2>>"$log"
import sys, duckdb
con = duckdb.connect(f"{sys.argv[1]}/memoire.duckdb", read_only=True)
print(con.sql("SELECT count(*) FROM labels l JOIN users u USING (user_id) WHERE u.split = 'train' AND l.agreed").fetchall()[0][0])
EOF
)
epochs=${EPOCHS:-$($py -c "import sys; pps, n, b = float(sys.argv[1] or 0), int(sys.argv[2] or 0), float(sys.argv[3]); print(max(2, min(150, int(b * pps / max(n, 1)))))" "${pps:-0}" "${pairs:-0}" "$budget" 2>>"$log" || echo 2)}
say "train pairs ${pairs:-?}; epochs per model: $epochs (budget $budget s at ${pps:-?} pairs/s)"

run train-default "$memoire" train -w "$ws" --preset paper --epochs "$epochs" --device "$device" "${train_args[@]}"
run eval "$memoire" eval -w "$ws" --suite quick
# A2 (No-PAT) needs the rgb-only model: trained and evaluated again only when it fits
NEED=$(( budget + 90 )) run train-rgb-only "$memoire" train -w "$ws" --preset paper --epochs "$epochs" --device "$device" --name rgb-only "${train_args[@]}" \
  && run eval-again "$memoire" eval -w "$ws" --suite quick

report=$(ls -td "$ws"/reports/*/ 2>/dev/null | head -n 1)
$py - "$ws" "$out" <<'EOF' >>"$log" 2>&1
import sys, duckdb
ws, out = sys.argv[1], sys.argv[2]
con = duckdb.connect(f"{ws}/memoire.duckdb", read_only=True)
con.sql("SELECT * FROM train_epochs ORDER BY ALL").write_csv(f"{out}/train_epochs.csv")
con.sql("SELECT * FROM models").write_csv(f"{out}/models.csv")
EOF
tar -czf "$out/results.tar.gz" -C "$out" train_epochs.csv models.csv \
  ${report:+-C "$report" summary.md summary.json} 2>>"$log"
say "done; report ${report:-none}"
