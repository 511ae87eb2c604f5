# Sourced by the benchmark scripts. CPU time the hypervisor gave to other guests during a run
# (/proc/stat "steal"): on a shared 2-core VM it explains most of the spread between runs, so
# every figure is printed with it.
cpu_times() { awk '/^cpu /{print $9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }
steal_since() {
    local steal0 total0 steal1 total1
    read -r steal0 total0 <<<"$1"
    read -r steal1 total1 <<<"$(cpu_times)"
    awk -v s="$((steal1 - steal0))" -v t="$((total1 - total0))" 'BEGIN { printf "CPU steal: %.1f%%\n", (t > 0 ? 100 * s / t : 0) }'
}
