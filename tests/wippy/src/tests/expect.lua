-- A small assertion library the test functions import (imports: expect).
-- Each check raises with a message naming what failed; a test function
-- that raises fails in the runner.
type Err = any

local M = {}

local function show(v: any): string
    if type(v) == "string" then return string.format("%q", v) end
    return tostring(v)
end

function M.eq(got: any, want: any, what: string?)
    if got ~= want then
        error(string.format("%s: got %s, want %s", what or "value", show(got), show(want)), 2)
    end
end

function M.ok(v: any, what: string?)
    if not v then error((what or "condition") .. " is not true", 2) end
    return v
end

function M.same(got: any, want: any, what: string?)
    local function same(a: any, b: any): boolean
        if type(a) ~= "table" or type(b) ~= "table" then return a == b end
        for k, v in pairs(a) do if not same(v, b[k]) then return false end end
        for k in pairs(b) do if a[k] == nil then return false end end
        return true
    end
    if not same(got, want) then error((what or "tables") .. " differ", 2) end
end

-- v, err of a call that must fail with an error of `kind` whose message
-- contains `sub` (either may be nil).
function M.fails(kind: string?, sub: string?, v: any, err: Err)
    if v ~= nil then error("expected nil, err; got " .. show(v), 2) end
    if type(err) ~= "userdata" then error("expected an error object, got " .. show(err), 2) end
    if kind and err:kind() ~= kind then
        error(string.format("error kind %s, want %s (%s)", err:kind(), kind, err:message()), 2)
    end
    if sub and not string.find(err:message(), sub, 1, true) then
        error(string.format("error %q lacks %q", err:message(), sub), 2)
    end
    return err
end

-- Receives from ch within `limit` (a failure bound, not a wait).
function M.recv(ch: any, limit: string?): any
    local deadline = time.after(limit or "5s")
    local r = channel.select({ ch:case_receive(), deadline:case_receive() })
    if r.channel == deadline then error("timed out receiving", 2) end
    return r.value
end

return M
