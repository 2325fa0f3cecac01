-- mod_system: the read-only `system` module (spec 10 §9.2) on a standalone
-- node: every row. The exact pid, hostname and working directory of a
-- node are compared with the shell's view in tests/cluster/run.sh (which
-- knows the wippy process's pid); here: their types and what this run
-- knows (run.sh runs the case in a directory named after it).
local test, check, eq = t.test, t.check, t.eq

local function main()
    test("module availability", function()
        eq(require("system"), system, "require('system')")
        for sub, names in pairs({
            node = { "id", "addr", "role" },
            cluster = { "members", "size", "leader" },
            process = { "pid", "hostname", "cwd" },
            runtime = { "cpu_count" },
        }) do
            eq(type(system[sub]), "table", sub)
            for _, name in ipairs(names) do
                eq(type(system[sub][name]), "function", sub .. "." .. name)
            end
        end
    end)

    test("node: id local, role non-member, addr not available", function()
        eq(system.node.id(), "local", "node.id")
        eq(select("#", system.node.id()), 1, "node.id: one result")
        eq(system.node.role(), "non-member", "node.role")
        local v, err = system.node.addr()
        t.fails(errors.INTERNAL, nil, "node.addr", v, err)
        eq(err:message(), "local node address not available", "node.addr: message")
        eq(err:retryable(), false, "node.addr: retryable")
        check(errors.is(err, errors.INTERNAL), "node.addr: errors.is")
    end)

    test("cluster: this node alone", function()
        t.same(system.cluster.members(), { { id = "local", is_local = true } }, "members")
        local m = system.cluster.members()
        eq(#m, 1, "members: one")
        eq(m[1].addr, nil, "members: no addr")
        eq(m[1].meta, nil, "members: no meta")
        check(system.cluster.members() ~= m, "members: a fresh table per call")
        eq(system.cluster.size(), 1, "size")
        eq(math.type(system.cluster.size()), "integer", "size: integer")
        eq(system.cluster.leader(), "", "leader")
    end)

    test("process: pid, hostname, cwd", function()
        local pid = system.process.pid()
        eq(math.type(pid), "integer", "pid: integer")
        check(pid > 0, "pid > 0: " .. tostring(pid))
        eq(system.process.pid(), pid, "pid: the same on every call")
        local h, herr = system.process.hostname()
        eq(herr, nil, "hostname: no error")
        eq(type(h), "string", "hostname: string")
        check(#h > 0, "hostname: not empty")
        local cwd, cerr = system.process.cwd()
        eq(cerr, nil, "cwd: no error")
        eq(type(cwd), "string", "cwd: string")
        eq(cwd:sub(1, 1), "/", "cwd: absolute")
        check(cwd:match("/mod_system$"), "cwd: the case's directory: " .. cwd)
    end)

    test("runtime: cpu_count", function()
        local n = system.runtime.cpu_count()
        eq(math.type(n), "integer", "cpu_count: integer")
        check(n >= 1, "cpu_count >= 1: " .. tostring(n))
    end)

    return t.finish()
end

return { main = main }
