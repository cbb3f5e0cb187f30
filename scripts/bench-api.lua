-- wrk script for `scripts/bench api`: each request logs the visit that completes one open
-- follow-up, as its institution's token. Arguments: ITEMS TOKENS THREADS BODY USE_KEYS, where
-- ITEMS has one "TOKEN_INDEX FOLLOW_UP_ID" per line and TOKENS one token per line. Each thread
-- takes every THREADS-th item, so no follow-up is posted twice.
local counter = 0
function setup(thread)
    thread:set("tid", counter)
    counter = counter + 1
end

function init(args)
    local nthreads = tonumber(args[3])
    tokens = {}
    for line in io.lines(args[2]) do tokens[#tokens + 1] = line end
    items = {}
    local i = 0
    for line in io.lines(args[1]) do
        if i % nthreads == tid then
            local t, id = line:match("(%d+) (%d+)")
            items[#items + 1] = { tonumber(t), id }
        end
        i = i + 1
    end
    pos = 0
    body = args[4]
    use_keys = args[5] == "1"
end

function request()
    pos = pos + 1
    local item = items[pos]
    if item == nil then
        -- Out of follow-ups: the run was sized too short; these show up as non-2xx answers.
        item = items[1]
    end
    local headers = { ["Authorization"] = "Bearer " .. tokens[item[1]], ["Content-Type"] = "application/json" }
    if use_keys then headers["Idempotency-Key"] = "bench-" .. item[2] end
    return wrk.format("POST", "/follow-ups/" .. item[2] .. "/visits", headers, body)
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format("RESULT requests=%d duration_us=%d non2xx=%d socket_errors=%d p50_us=%d p90_us=%d p99_us=%d mean_us=%.0f\n",
        summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
        latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean))
end
