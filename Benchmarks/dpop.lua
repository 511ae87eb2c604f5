-- GET with a DPoP-bound token and a fresh proof per request: proofs are read from the file in
-- NEOSEC_BENCH_PROOFS (one per line, made by dpop_proofs.py), each used once (jti single use).
local token = os.getenv("NEOSEC_BENCH_TOKEN")
local proofs = {}
for line in io.lines(os.getenv("NEOSEC_BENCH_PROOFS")) do proofs[#proofs + 1] = line end
local next_proof = 0

request = function()
    next_proof = next_proof + 1
    if next_proof > #proofs then next_proof = 1 end
    return wrk.format("GET", nil, { ["Authorization"] = "DPoP " .. token, ["DPoP"] = proofs[next_proof] })
end

done = function(summary, latency, requests)
    local errors = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
    io.write(string.format("non-2xx or socket errors: %d (more requests than proofs replay and fail)\n", errors))
end
