#!/usr/bin/env bash
# The pending GPU figures, one device call a stage, each under 600 s. A task lent a GPU now has
# 15 minutes of device time in all, start-up included, so a session runs ONE stage: the first
# one whose figures are not yet in bench/RESULTS.md. The stages go in the order that closes an
# issue soonest. On the device machine, from the repository root, after the device tool's set-up:
#
#   bash .shared/tools/device-env.sh >/dev/null; export PYTHONPATH=/tmp/site:$PWD \
#       GPULP_SHARED=.shared PYTHONUNBUFFERED=1; bash bench/gpu_session.sh 1
#
# with carry [".whl", ".shared"].
#   1 (~520 s): Netlib and the infeasible set at 1e-4, GPU, CPU and HiGHS IPM side by side (issue
#     6's last figure, the GPU within 10 s each; issue 5's same answers on both paths), the
#     `gpu` kernel tests, then gpulp's large LPs alone on the host and the host part.
#   2 (~520 s): Maros-Meszaros at 1e-6 beside HiGHS IPM and the factor QPs at n = 1e3, 1e4, 1e5
#     (issue 7's figures on the GPU).
#   3 (~560 s): HiGHS on the large LPs as a second process on the host's cores, beside
#     gpu_check's floor, small, memory and profile parts (issue 5's floor, afiro, memory,
#     profile, and the large LPs' ratios to HiGHS).
#   4 (~350 s): gpu_check's agree and apps parts, and Netlib at 1e-8 on the GPU.
# Each stage leaves at most 8 files in $OUT (what the device tool brings back) and prints a
# short summary last.
set -u
stage=${1:?say which stage: 1, 2, 3 or 4}
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

large_alone() {     # gpulp's large LPs, alone on the host (presolve and the final check run
    # there; in the first call, with HiGHS's threads beside them, they took 1.4-4.5x their time
    # on the 2-core VM), then the host passes of those solves in one pass and in row blocks
    timeout 150 python -m bench.gpu_check --part large --highs skip --out "$out" \
        >"$out/large.log" 2>&1
    timeout 40 python -m bench.gpu_check --part host --out "$out" >>"$out/large.log" 2>&1
}

case $stage in
1)
    nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,memory.total,power.limit --format=csv
    bench nl 230 --solvers gpulp-gpu,gpulp-cpu,highs-ipm --set netlib infeasible --tol 1e-4 \
        --time-limit 10
    timeout 100 python -m pytest -q -m gpu -p no:cacheprovider tests/test_kernels.py \
        >"$out/pytest.log" 2>&1
    tail -2 "$out/pytest.log"
    large_alone
    tar czf "$out/logs.tgz" /tmp/nl/logs 2>/dev/null
    python -m bench.gpu_check --summary "$out/gpu_check.jsonl"
    ;;
2)
    bench mm 320 --solvers gpulp-gpu,highs-ipm --set maros-meszaros --tol 1e-6 --time-limit 20
    bench qp 200 --solvers gpulp-gpu,highs-ipm --set generated --kinds factor_qp \
        --sizes 51050,510050,5100050 --tol 1e-6 --time-limit 60
    tar czf "$out/logs.tgz" /tmp/mm/logs /tmp/qp/logs 2>/dev/null
    ;;
3)
    nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,memory.total,power.limit --format=csv
    # HiGHS on the large LPs as a second process, beside the parts timed on the GPU
    timeout 380 python -m bench.gpu_check --part large --highs only --out "$out/highs" \
        >"$out/highs.log" 2>&1 &
    highs=$!
    timeout 200 python -m bench.gpu_check --part small,floor,memory,profile --out "$out" \
        >"$out/check.log" 2>&1
    wait "$highs"
    python -m bench.gpu_check --summary "$out/gpu_check.jsonl" "$out/highs/gpu_check.jsonl"
    ;;
4)
    timeout 200 python -m bench.gpu_check --part agree,apps --cpu-limit 5 --out "$out" \
        >"$out/agree.log" 2>&1
    bench nl8 150 --solvers gpulp-gpu,highs-ipm --set netlib --tol 1e-8 --time-limit 10
    python -m bench.gpu_check --summary "$out/gpu_check.jsonl"
    ;;
*)
    echo "unknown stage $stage (1, 2, 3 or 4)" >&2
    exit 2
    ;;
esac
