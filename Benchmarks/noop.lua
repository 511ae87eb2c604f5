-- GET /health/live: the HTTP stack's own ceiling on the same server (router, middleware, JSON).
wrk.method = "GET"

done = function(summary, latency, requests)
    local errors = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
    io.write(string.format("non-2xx or socket errors: %d\n", errors))
end
