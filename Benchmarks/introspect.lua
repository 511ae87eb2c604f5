-- POST /oauth2/introspect with the token in NEOSEC_BENCH_TOKEN, the caller's Basic credentials
-- in NEOSEC_BENCH_AUTH: the same token every time (the cache-hit path, unless the cache is off).
wrk.method = "POST"
wrk.body = "token=" .. os.getenv("NEOSEC_BENCH_TOKEN")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = os.getenv("NEOSEC_BENCH_AUTH")

done = function(summary, latency, requests)
    local errors = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
    io.write(string.format("non-2xx or socket errors: %d\n", errors))
end
