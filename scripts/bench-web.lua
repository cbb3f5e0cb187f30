-- wrk script for `scripts/bench web`: one signed-in coordinator (or one institution's API token)
-- per connection, run with as many threads as connections (-tN -cN), so thread = connection =
-- person and a connection's requests strictly alternate with its answers. Arguments:
--   SIDE MODE CLIENTS ITEMS FROM TODAY
-- SIDE web|api. MODE worklist (every request loads the worklist) or mixed (load the worklist,
-- log a visit, load the worklist, ...). CLIENTS has one line per connection: for web
-- "SESSION_SECRET CSRF_TOKEN", for api "TOKEN". ITEMS has "CLIENT_INDEX FOLLOW_UP_ID" lines
-- (CLIENT_INDEX from 1), each client's in the order its visits are logged. FROM front|back:
-- which end of its list a client takes visits from (the warm-up takes the back, the measured run
-- the front, so they never log the same follow-up). TODAY is the visit date (Asia/Seoul).
--
-- Each connection times its own requests (request() to response(), monotonic clock) by kind,
-- checks every answer is the one a working form or call gets (web: worklist 200, visit 303 to
-- /app/worklist?logged=1; api: 200 and 201) and counts the rest by status. done() prints one
-- RESULT line, one THREAD line per connection and, for the first unexpected answer, its status
-- and the start of its body.
local ffi = require("ffi")
ffi.cdef [[
    typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
    int clock_gettime(int clock, bench_timespec *t);
]]
local ts = ffi.new("bench_timespec")
local function now_us()
    ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
    return tonumber(ts.tv_sec) * 1000000 + tonumber(ts.tv_nsec) / 1000
end

local threads = {}
local counter = 0
function setup(thread)
    counter = counter + 1
    thread:set("tid", counter)
    table.insert(threads, thread)
end

function init(args)
    side, mode, from, today = args[1], args[2], args[5], args[6]
    local n = 0
    for line in io.lines(args[3]) do
        n = n + 1
        if n == tid then client = line end
    end
    if client == nil then error("no client for connection " .. tid .. " in " .. args[3]) end
    items = {}
    for line in io.lines(args[4]) do
        local c, id = line:match("^(%d+) (%d+)")
        if tonumber(c) == tid then items[#items + 1] = id end
    end
    if side == "web" then
        local secret, csrf = client:match("^(%S+) (%S+)")
        get_headers = { ["Cookie"] = "registry_session=" .. secret }
        post_headers = { ["Cookie"] = "registry_session=" .. secret, ["Content-Type"] = "application/x-www-form-urlencoded" }
        post_body = "_csrf=" .. csrf .. "&on=" .. today .. "&contact=phone&vital=alive&m.ecog=1"
        list_path = "/app/worklist"
    else
        get_headers = { ["Authorization"] = "Bearer " .. client }
        post_headers = { ["Authorization"] = "Bearer " .. client, ["Content-Type"] = "application/json" }
        post_body = '{"on":"' .. today .. '","contact":"phone","vital":"alive","measures":[{"key":"ecog","value":1}]}'
        -- The same page of entries the web page shows (its page size, 100).
        list_path = "/worklist?limit=100"
    end
    step, used = 0, 0
    lat_get, lat_post = {}, {}
    statuses, unexpected, ran_out = {}, 0, 0
    first_bad = nil
end

function request()
    step = step + 1
    if mode == "worklist" or step % 2 == 1 then
        kind = "get"
        started = now_us()
        -- After a logged visit the browser follows the redirect to /app/worklist?logged=1.
        if side == "web" and step > 1 and mode == "mixed" then
            return wrk.format("GET", list_path .. "?logged=1", get_headers)
        end
        return wrk.format("GET", list_path, get_headers)
    end
    kind = "post"
    used = used + 1
    local id
    if from == "back" then id = items[#items + 1 - used] else id = items[used] end
    if id == nil then
        -- Out of follow-ups: the lists were sized too short; shows up as unexpected answers.
        ran_out = ran_out + 1
        id = items[1] or "0"
    end
    local path = side == "web" and ("/app/follow-ups/" .. id .. "/visit") or ("/follow-ups/" .. id .. "/visits")
    started = now_us()
    return wrk.format("POST", path, post_headers, post_body)
end

function response(status, headers, body)
    local elapsed = now_us() - started
    statuses[status] = (statuses[status] or 0) + 1
    local ok
    if kind == "get" then
        lat_get[#lat_get + 1] = elapsed
        ok = status == 200
    else
        lat_post[#lat_post + 1] = elapsed
        if side == "web" then
            local location = headers["Location"] or headers["location"] or ""
            ok = status == 303 and location:find("/app/worklist?logged=1", 1, true) ~= nil
        else
            ok = status == 201
        end
    end
    if not ok then
        unexpected = unexpected + 1
        if first_bad == nil then
            local location = headers["Location"] or headers["location"] or ""
            first_bad = kind .. " " .. status .. (location ~= "" and (" to " .. location) or "") .. ": " .. (body or ""):sub(1, 400):gsub("%s+", " ")
        end
    end
end

local function percentile(sorted, p)
    if #sorted == 0 then return 0 end
    local i = math.ceil(#sorted * p / 100)
    if i < 1 then i = 1 end
    return sorted[i]
end

local function stats(list)
    table.sort(list)
    return #list, percentile(list, 50), percentile(list, 99)
end

function done(summary, latency, requests)
    local all_get, all_post, all_statuses = {}, {}, {}
    local unexpected_total, ran_out_total, bad = 0, 0, nil
    local per_thread = {}
    for _, t in ipairs(threads) do
        local g, p = t:get("lat_get") or {}, t:get("lat_post") or {}
        for _, v in ipairs(g) do all_get[#all_get + 1] = v end
        for _, v in ipairs(p) do all_post[#all_post + 1] = v end
        for s, n in pairs(t:get("statuses") or {}) do all_statuses[s] = (all_statuses[s] or 0) + n end
        unexpected_total = unexpected_total + (t:get("unexpected") or 0)
        ran_out_total = ran_out_total + (t:get("ran_out") or 0)
        bad = bad or t:get("first_bad")
        local gn, g50, g99 = stats(g)
        local pn, p50, p99 = stats(p)
        per_thread[#per_thread + 1] = string.format("THREAD tid=%d get_n=%d get_p50_us=%.0f get_p99_us=%.0f post_n=%d post_p50_us=%.0f post_p99_us=%.0f",
            t:get("tid"), gn, g50, g99, pn, p50, p99)
    end
    local gn, g50, g99 = stats(all_get)
    local pn, p50, p99 = stats(all_post)
    local codes = {}
    for s, n in pairs(all_statuses) do codes[#codes + 1] = s .. ":" .. n end
    table.sort(codes)
    local e = summary.errors
    io.write(string.format("RESULT requests=%d duration_us=%d get_n=%d get_p50_us=%.0f get_p99_us=%.0f post_n=%d post_p50_us=%.0f post_p99_us=%.0f non2xx3xx=%d unexpected=%d ran_out=%d socket_errors=%d statuses=%s\n",
        summary.requests, summary.duration, gn, g50, g99, pn, p50, p99, e.status, unexpected_total, ran_out_total,
        e.connect + e.read + e.write + e.timeout, table.concat(codes, ",")))
    for _, line in ipairs(per_thread) do io.write(line, "\n") end
    if bad then io.write("FIRST_UNEXPECTED ", bad, "\n") end
end
