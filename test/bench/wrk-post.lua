-- wrk script: POSTs the payload file named by BENCH_PAYLOAD over keep-alive connections and prints one
-- machine-readable summary line ("BENCH_RESULT {json}") for test/bench/bench.mjs.
local payload = os.getenv("BENCH_PAYLOAD")
local file = assert(io.open(payload, "rb"), "cannot open BENCH_PAYLOAD " .. tostring(payload))
wrk.body = file:read("*a")
file:close()
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench-not-a-real-key"

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
