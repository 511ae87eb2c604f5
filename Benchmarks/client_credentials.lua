-- POST /oauth2/token, grant_type=client_credentials, client_secret_basic from NEOSEC_BENCH_AUTH.
wrk.method = "POST"
wrk.body = "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = os.getenv("NEOSEC_BENCH_AUTH")

done = function(summary, latency, requests)
    local errors = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
    io.write(string.format("non-2xx or socket errors: %d\n", errors))
end
