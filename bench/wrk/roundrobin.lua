-- roundrobin.lua — raw publishes spread round-robin over N queues (bench/compare W5b).
-- Arguments after `--`: PREFIX N SIZE, e.g. `-- rr 10000 100` publishes to rr0 ... rr9999.
-- All N requests are built in init() (see publish.lua for why not at load time).
local reqs, n, i = {}, 0, 0

function init(args)
    local prefix, size = args[1], tonumber(args[3])
    n = tonumber(args[2])
    local body = string.rep("x", size)
    for q = 1, n do
        reqs[q] = wrk.format("POST", "/v1/queues/" .. prefix .. (q - 1) .. "/messages", nil, body)
    end
end

function request()
    i = i % n + 1
    return reqs[i]
end
