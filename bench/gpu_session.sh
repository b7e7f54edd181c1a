#!/usr/bin/env bash
# The pending GPU figures, in three device calls of under 600 s each (a session has 30 minutes).
# On the device machine, from the repository root, after the device tool's set-up:
#
#   bash .shared/tools/device-env.sh >/dev/null; export PYTHONPATH=/tmp/site:$PWD \
#       GPULP_SHARED=.shared PYTHONUNBUFFERED=1; bash bench/gpu_session.sh 1
#
# with carry [".whl", ".shared"]. Stage 1: bench/gpu_check.py's large part alone, then HiGHS on
# the same LPs as a second process on the host's cores while the GPU tests and gpu_check's floor,
# small, memory and profile parts run. Stage 2: Netlib and the infeasible set at 1e-4 (GPU,
# CPU and HiGHS IPM side by side), then Maros-Meszaros at 1e-6. Stage 3: the factor QPs at 1e-6,
# gpu_check's agree and apps parts, and Netlib at 1e-8. Each stage leaves at most 8 files in
# $OUT (what the device tool brings back) and prints a short summary last.
set -u
stage=${1:?say which stage: 1, 2 or 3}
out=${2:-${OUT:?set OUT or pass a folder}}
mkdir -p "$out"
S="--warm-up --jobs 14 --threads 1"

bench() {     # bench NAME SECONDS ARGS...: one harness run; its log and rows land in $out
    local name=$1 limit=$2
    shift 2
    timeout "$limit" python -m bench run $S "$@" --out "/tmp/$name" >"$out/$name.log" 2>&1
    pkill -f "bench worker" 2>/dev/null    # a cut run leaves no worker on the GPU
    cp "/tmp/$name/results.jsonl" "$out/$name.jsonl" 2>/dev/null
    tail -3 "$out/$name.log"
}

case $stage in
1)
    nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,memory.total,power.limit --format=csv
    # gpulp's large LPs first, alone on the host: presolve and the final check run on the host's
    # CPU, and in the first call, with HiGHS's threads beside them, they took 1.4-4.5x their
    # time on the 2-core VM (CVaR: presolve 95 ms, check 64 ms)
    timeout 150 python -m bench.gpu_check --part large --highs skip --out "$out" \
        >"$out/large.log" 2>&1
    # the host passes of those solves, one pass against row blocks on the host's threads
    timeout 60 python -m bench.gpu_check --part host --out "$out" >>"$out/large.log" 2>&1
    # then HiGHS on the same LPs as a second process, beside the parts timed on the GPU
    timeout 380 python -m bench.gpu_check --part large --highs only --out "$out/highs" \
        >"$out/highs.log" 2>&1 &
    highs=$!
    timeout 120 python -m pytest -q -m gpu -p no:cacheprovider tests/test_kernels.py \
        >"$out/pytest.log" 2>&1
    tail -2 "$out/pytest.log"
    timeout 200 python -m bench.gpu_check --part small,floor,memory,profile --out "$out" \
        >"$out/check.log" 2>&1
    wait "$highs"
    python -m bench.gpu_check --summary "$out/gpu_check.jsonl" "$out/highs/gpu_check.jsonl"
    ;;
2)
    bench nl 230 --solvers gpulp-gpu,gpulp-cpu,highs-ipm --set netlib infeasible --tol 1e-4 \
        --time-limit 10
    bench mm 320 --solvers gpulp-gpu,highs-ipm --set maros-meszaros --tol 1e-6 --time-limit 20
    tar czf "$out/logs.tgz" /tmp/nl/logs /tmp/mm/logs 2>/dev/null
    ;;
3)
    bench qp 200 --solvers gpulp-gpu,highs-ipm --set generated --kinds factor_qp \
        --sizes 51050,510050,5100050 --tol 1e-6 --time-limit 60
    timeout 200 python -m bench.gpu_check --part agree,apps --cpu-limit 5 --out "$out" \
        >"$out/agree.log" 2>&1
    bench nl8 150 --solvers gpulp-gpu,highs-ipm --set netlib --tol 1e-8 --time-limit 10
    python -m bench.gpu_check --summary "$out/gpu_check.jsonl"
    ;;
*)
    echo "unknown stage $stage (1, 2 or 3)" >&2
    exit 2
    ;;
esac
