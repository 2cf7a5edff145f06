-- batch.lua — POST /batch with N messages of SIZE bytes each (bench/compare W3).
-- wrk embeds LuaJIT (Lua 5.1): no integer division operator, hence math.floor.
-- Arguments after `--`: PATH N SIZE [FORM], e.g. `-- /v1/queues/bench/batch 100 100 json`.
-- FORM json (the default): bodies are base64 of SIZE "x" bytes ("xxx" is "eHh4"); FORM lines:
-- N lines of SIZE "x" bytes as text/plain (docs/api.md). The body is built once in init().
local req

local function b64x(size)
    local s = string.rep("eHh4", math.floor(size / 3))
    local rest = size % 3
    if rest == 1 then
        s = s .. "eA=="
    elseif rest == 2 then
        s = s .. "eHg="
    end
    return s
end

function init(args)
    local path, n, size, form = args[1], tonumber(args[2]), tonumber(args[3]), args[4] or "json"
    if form == "lines" then
        local body = string.rep(string.rep("x", size) .. "\n", n)
        req = wrk.format("POST", path, {["Content-Type"] = "text/plain"}, body)
        return
    end
    local item = '{"body":"' .. b64x(size) .. '"}'
    local items = {}
    for i = 1, n do
        items[i] = item
    end
    local body = '{"messages":[' .. table.concat(items, ",") .. ']}'
    req = wrk.format("POST", path, {["Content-Type"] = "application/json"}, body)
end

function request()
    return req
end
