-- publish.lua — one raw POST per request, the same bytes every time (bench/compare W1, W5c).
-- Arguments after `--`: PATH SIZE, e.g. `-- /v1/queues/bench/messages 100`.
-- The request is built in init(), not at load time: wrk sets wrk.host (and so the Host header
-- that wrk.format adds) only after the script is loaded.
local req

function init(args)
    local path, size = args[1], tonumber(args[2])
    req = wrk.format("POST", path, nil, string.rep("x", size))
end

function request()
    return req
end
