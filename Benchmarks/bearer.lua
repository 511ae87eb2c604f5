-- GET with `Authorization: <NEOSEC_BENCH_AUTH>` (e.g. "Bearer <JWT>").
wrk.headers["Authorization"] = os.getenv("NEOSEC_BENCH_AUTH")

done = function(summary, latency, requests)
    local errors = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
    io.write(string.format("non-2xx or socket errors: %d\n", errors))
end
