-- testing.lua: the small test runner library of the Lua-level suite.
--
-- A case imports it as a library.lua entry (run.sh copies this file into the
-- case's src/ directory when the case's _index.yaml mentions testing.lua):
--
--   - name: testing
--     kind: library.lua
--     source: file://testing.lua
--     modules: [io, time]
--   - name: test
--     kind: process.lua
--     source: file://test.lua
--     imports: {t: app:testing}
--
-- and uses it as
--
--   local function main()
--       t.test("something", function() t.eq(1 + 1, 2, "sum") end)
--       return t.finish()         -- prints "N passed, N failed"; 0 or 1
--   end
--
-- Every subtest prints "PASS <name>" or "FAIL <name>: <why>". run.sh fails a
-- case with a FAIL line, and one whose PASS lines are not exactly the number
-- in its expect_checks file (a subtest that never ran fails the case too).
-- Time limits in the helpers (time.after) are only
-- failure bounds: nothing here waits for a fixed time to synchronise.
local M = { passed = 0, failed = 0 }

local DEFAULT_LIMIT = "10s"

local function fmt(v)
    if type(v) == "string" then return string.format("%q", v) end
    return tostring(v)
end
M.fmt = fmt

local setup = nil

-- Sets a function run before every later subtest (inside its pcall), e.g.
-- t.before_each(t.drain_inbox) so a stray message cannot derail the next
-- subtest.
function M.before_each(fn)
    setup = fn
end

-- Runs fn as the subtest `name`; an error raised inside fails the subtest.
function M.test(name, fn)
    local ok, err = pcall(function()
        if setup then setup() end
        fn()
    end)
    if ok then
        M.passed = M.passed + 1
        io.print("PASS " .. name)
    else
        M.failed = M.failed + 1
        io.print("FAIL " .. name .. ": " .. tostring(err))
    end
    return ok
end

-- Prints "N passed, N failed" and returns the exit code (0 or 1).
function M.finish()
    io.print(string.format("%d passed, %d failed", M.passed, M.failed))
    if M.failed == 0 then return 0 end
    return 1
end

function M.fail(msg, level)
    error(msg or "failed", (level or 1) + 1)
end

function M.check(cond, msg)
    if not cond then error(msg or "check failed", 2) end
    return cond
end

function M.eq(got, want, what)
    if got ~= want then
        error(string.format("%s: expected %s, got %s", what or "value", fmt(want), fmt(got)), 2)
    end
    return got
end

function M.neq(got, other, what)
    if got == other then
        error(string.format("%s: expected something other than %s", what or "value", fmt(other)), 2)
    end
    return got
end

-- Deep comparison of plain values/tables (metatables ignored).
local function same(a, b, path, seen)
    if a == b then return nil end
    if type(a) ~= "table" or type(b) ~= "table" then
        return string.format("%s: expected %s, got %s", path, fmt(b), fmt(a))
    end
    seen = seen or {}
    if seen[a] == b then return nil end
    seen[a] = b
    for k, v in pairs(b) do
        local d = same(a[k], v, path .. "[" .. fmt(k) .. "]", seen)
        if d then return d end
    end
    for k, v in pairs(a) do
        if b[k] == nil then
            return string.format("%s[%s]: unexpected %s", path, fmt(k), fmt(v))
        end
    end
    return nil
end

function M.same(got, want, what)
    local d = same(got, want, what or "value")
    if d then error(d, 2) end
    return got
end

function M.contains(s, sub, what)
    s = tostring(s)
    if not string.find(s, sub, 1, true) then
        error(string.format("%s: %q does not contain %q", what or "text", s, sub), 2)
    end
    return s
end

-- Is v an error object (userdata with kind/message methods)?
function M.is_error(v)
    if type(v) ~= "userdata" then return false end
    local ok, k = pcall(function() return v:kind() end)
    local ok2, m = pcall(function() return v:message() end)
    return ok and ok2 and type(k) == "string" and type(m) == "string"
end

-- Checks that err is an error object of kind `kind` (when given) whose
-- message contains `sub` (when given); errors are raised at `level`.
local function check_error(err, kind, sub, what, level)
    level = level + 1
    if not M.is_error(err) then
        error(string.format("%s: expected an error object, got %s (%s)", what, fmt(err), type(err)), level)
    end
    if kind ~= nil and err:kind() ~= kind then
        error(string.format("%s: expected kind %s, got %s (message %q)", what, fmt(kind),
            fmt(err:kind()), err:message()), level)
    end
    if sub ~= nil and not string.find(err:message(), sub, 1, true) then
        error(string.format("%s: message %q does not contain %q", what, err:message(), sub), level)
    end
    return err
end

-- err must be an error object of kind `kind` (when given) whose message
-- contains `sub` (when given). Returns err.
function M.errkind(err, kind, sub, what)
    return check_error(err, kind, sub, what or "error", 2)
end

-- Checks the results of a call that must fail the `nil, err` way, e.g.
--   t.fails(errors.INVALID, "cannot send", "send to @", process.send(me, "@x"))
-- kind and sub may be nil (not checked). Returns the error.
function M.fails(kind, sub, what, v, err)
    what = what or "call"
    if v ~= nil then
        error(string.format("%s: expected nil, err; got %s, %s", what, fmt(v), fmt(err)), 2)
    end
    return check_error(err, kind, sub, what, 2)
end

-- Like fails, but the first result must be exactly `first` (e.g. false).
function M.fails_with(first, kind, sub, what, v, err)
    what = what or "call"
    if v ~= first then
        error(string.format("%s: expected %s, err; got %s, %s", what, fmt(first), fmt(v), fmt(err)), 2)
    end
    return check_error(err, kind, sub, what, 2)
end

-- fn(...) must raise; the raised value (as text) must contain `sub` when
-- given. Returns the raised value.
function M.raises(sub, what, fn, ...)
    local ok, err = pcall(fn, ...)
    if ok then error((what or "call") .. ": expected an error, none raised", 2) end
    if sub ~= nil and not string.find(tostring(err), sub, 1, true) then
        error(string.format("%s: raised %q, which does not contain %q", what or "call",
            tostring(err), sub), 2)
    end
    return err
end

-- Receives one value from ch; fails after `limit` (a failure bound only).
-- Returns value, ok.
function M.recv(ch, limit)
    local deadline = time.after(limit or DEFAULT_LIMIT)
    local r = channel.select({ ch:case_receive(), deadline:case_receive() })
    if r.channel == deadline then error("timed out after " .. (limit or DEFAULT_LIMIT), 2) end
    return r.value, r.ok
end

-- Sends v on ch; fails after `limit`.
function M.send(ch, v, limit)
    local deadline = time.after(limit or DEFAULT_LIMIT)
    local r = channel.select({ ch:case_send(v), deadline:case_receive() })
    if r.channel == deadline then error("send timed out after " .. (limit or DEFAULT_LIMIT), 2) end
    return r
end

-- ch must have nothing ready right now (non-blocking check).
function M.nothing(ch, what)
    local r = channel.select({ ch:case_receive() }, true)
    if not r.default then
        local v = r.value
        local desc = fmt(v)
        if type(v) == "table" and v.kind then desc = "event " .. tostring(v.kind) .. " from " .. tostring(v.from) end
        error(string.format("%s: unexpected value %s (ok=%s)", what or "channel", desc, tostring(r.ok)), 2)
    end
end

-- Discards the inbox messages queued right now; returns their topics.
function M.drain_inbox()
    local topics = {}
    local inbox = process.inbox()
    while true do
        local r = channel.select({ inbox:case_receive() }, true)
        if r.default then return topics end
        topics[#topics + 1] = r.value:topic()
    end
end

-- Next inbox message, which must have `topic` (when given). Returns the
-- Message object.
function M.expect_msg(topic, limit)
    local msg = M.recv(process.inbox(), limit)
    if topic ~= nil and msg:topic() ~= topic then
        local body = msg:payload()
        if body and type(body) ~= "table" then body = body:data() end
        error(string.format("expected message %q, got %q (%s)", topic, msg:topic(), fmt(body)), 2)
    end
    return msg
end

-- The data of the next inbox message (which must have `topic`).
function M.expect_data(topic, limit)
    local msg = M.expect_msg(topic, limit)
    local p = msg:payload()
    if p == nil then return nil end
    return p:data()
end

-- Events not yet claimed by wait_event/wait_exit, in arrival order.
local stash = {}

-- Next event matching kind (and from, when given); events that do not match
-- are kept for later calls. Fails after `limit`.
function M.wait_event(kind, from, limit)
    for i, ev in ipairs(stash) do
        if ev.kind == kind and (from == nil or ev.from == from) then
            table.remove(stash, i)
            return ev
        end
    end
    local deadline = time.after(limit or DEFAULT_LIMIT)
    local events = process.events()
    while true do
        local r = channel.select({ events:case_receive(), deadline:case_receive() })
        if r.channel == deadline then
            error(string.format("timed out waiting for %s of %s", kind, tostring(from)), 2)
        end
        local ev = r.value
        if ev.kind == kind and (from == nil or ev.from == from) then return ev end
        stash[#stash + 1] = ev
    end
end

-- EXIT event of pid.
function M.wait_exit(pid, limit)
    return M.wait_event(process.event.EXIT, pid, limit)
end

-- No stashed or pending event of `kind` (from `from`, when given).
function M.no_event(kind, from, what)
    for _, ev in ipairs(stash) do
        if ev.kind == kind and (from == nil or ev.from == from) then
            error(string.format("%s: unexpected %s from %s", what or "events", kind, tostring(ev.from)), 2)
        end
    end
    local events = process.events()
    while true do
        local r = channel.select({ events:case_receive() }, true)
        if r.default then return end
        local ev = r.value
        if ev.kind == kind and (from == nil or ev.from == from) then
            error(string.format("%s: unexpected %s from %s", what or "events", kind, tostring(ev.from)), 2)
        end
        stash[#stash + 1] = ev
    end
end

-- Forget every stashed event.
function M.clear_events()
    stash = {}
end

return M
