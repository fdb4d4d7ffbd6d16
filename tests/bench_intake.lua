-- wrk script for `make bench`: POST /v1/complaints with a fresh waybill, phone and
-- Idempotency-Key on every request, so each one opens a new case.
local counter = 0
local thread_id = 0

function setup(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
end

function request()
  counter = counter + 1
  local n = tid * 10000000 + counter
  local body = string.format(
    '{"channel":"app","waybill_no":"YT%012d","complainant":{"name":"Bench User",' ..
    '"phone":"138%08d","role":"recipient","language":"en"},"description":' ..
    '"the parcel arrived damaged, the box was crushed","type":"damage",' ..
    '"impact":{"goods":["electronics"],"declared_value_fen":25000},"demand":["compensation"]}',
    n, n % 100000000)
  return wrk.format("POST", "/v1/complaints",
    {["Content-Type"] = "application/json", ["Idempotency-Key"] = "bench-" .. n}, body)
end

function done(summary, latency, requests)
  io.write(string.format("WRK %d %d %.3f %.3f %.3f %d\n", summary.requests,
    summary.duration, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.mean / 1000, summary.errors.status + summary.errors.connect + summary.errors.timeout))
end
