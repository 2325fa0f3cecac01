-- mod_env: the `env` module (spec 10 §9.1): variables declared as entries,
-- read from the OS (this case's `env` file), static and memory storages and
-- routers; every resolution rule of get, get_all, set and every error row.
local test, check, eq = t.test, t.check, t.eq

-- The call failed with kind and exactly msg, not retryable.
local function fails(kind, msg, what, v, err)
    t.fails(kind, nil, what, v, err)
    eq(err:message(), msg, what .. ": message")
    eq(err:retryable(), false, what .. ": retryable")
    check(errors.is(err, kind), what .. ": errors.is")
end

local NF = "environment variable not found"

-- The value process `id` returns when run with args (another process of
-- the runtime, maybe on another worker thread).
local function run(id, ...)
    local pid = assert(process.spawn_monitored(id, "app:processes", ...))
    local ev = t.wait_exit(pid)
    eq(ev.result.error, nil, id .. ": error")
    return ev.result.value
end

local function main()
    test("module availability", function()
        eq(require("env"), env, "require('env')")
        for _, name in ipairs({ "get", "get_all", "set" }) do
            eq(type(env[name]), "function", name)
        end
    end)

    test("public name, id and bare name", function()
        eq(env.get("WIPPY_ENV_TEST"), "from-os", "public name (os)")
        eq(env.get("app:os_var"), "from-os", "entry id")
        eq(env.get("os_var"), "from-os", "bare name: the caller's namespace")
        eq(env.get("GREETING"), "hello", "public name (static)")
        eq(env.get("greeting"), "hello", "a named variable by its bare entry name")
        eq(env.get("app:secret"), "s3cret", "unnamed: held under its id")
        eq(env.get("secret"), "s3cret", "unnamed, bare name")
    end)

    test("bare name in the caller's namespace", function()
        eq(env.get("shared"), "app-value", "app's shared from app")
        eq(env.get("other:shared"), "other-value", "other's shared by id")
        eq(run("other:probe"), "other-value", "other's shared from other")
    end)

    test("static values are strings", function()
        eq(env.get("NUMBER"), "42", "integer")
        eq(env.get("RATIO"), "0.5", "float")
        eq(env.get("FLAG"), "true", "boolean")
    end)

    test("default on missing and on empty", function()
        eq(env.get("WIPPY_ENV_EMPTY"), "fallback", "empty OS value: default")
        eq(env.get("WIPPY_ENV_MISSING"), "8080", "missing: default (a number, as a string)")
        fails(errors.NOT_FOUND, NF, "missing, no default", env.get("WIPPY_ENV_NODEF"))
        fails(errors.NOT_FOUND, NF, "empty, empty default", env.get("WIPPY_ENV_EMPTY2"))
        eq(env.get("COUNTER"), "0", "memory, never set: default")
        fails(errors.NOT_FOUND, NF, "memory, never set, no default", env.get("fresh"))
    end)

    test("undeclared names are NotFound", function()
        fails(errors.NOT_FOUND, NF, "in the OS environment", env.get("WIPPY_ENV_UNDECLARED"))
        fails(errors.NOT_FOUND, NF, "PATH", env.get("PATH"))
        fails(errors.NOT_FOUND, NF, "a static key", env.get("STATIC_ONLY"))
        fails(errors.NOT_FOUND, NF, "a storage's id", env.get("app:os"))
        fails(errors.NOT_FOUND, NF, "a process entry's id", env.get("app:test"))
        fails(errors.NOT_FOUND, NF, "a bare name of another namespace", env.get("probe"))
    end)

    test("empty key and wrong types", function()
        fails(errors.INVALID, "empty key", "get('')", env.get(""))
        fails(errors.INVALID, "empty key", "set('')", env.set("", "x"))
        t.raises(nil, "get(nil)", env.get, nil)
        t.raises(nil, "get({})", env.get, {})
        t.raises(nil, "get()", env.get)
        t.raises(nil, "set(name, nil)", env.set, "COUNTER", nil)
        t.raises(nil, "set(name, {})", env.set, "COUNTER", {})
        t.raises(nil, "set(true, 'x')", env.set, true, "x")
        eq(env.get("COUNTER"), "0", "nothing was set")
    end)

    test("set on memory, seen by another process", function()
        eq(env.set("COUNTER", "5"), true, "set by public name")
        eq(env.get("COUNTER"), "5", "get")
        eq(run("app:reader", "COUNTER"), "5", "another process")
        eq(env.set("app:counter", "6"), true, "set by id")
        eq(run("app:reader", "counter"), "6", "another process, bare name")
        eq(env.set("fresh", "new"), true, "unnamed, bare name")
        eq(env.get("app:fresh"), "new", "get by id")
        eq(env.set("COUNTER", ""), true, "set empty")
        eq(env.get("COUNTER"), "0", "empty: the default again")
        eq(env.set("COUNTER", 7), true, "a number is a string")
        eq(env.get("COUNTER"), "7", "number")
        fails(errors.NOT_FOUND, NF, "set undeclared", env.set("WIPPY_ENV_UNDECLARED", "x"))
    end)

    test("set on read-only", function()
        fails(errors.PERMISSION_DENIED, "environment variable is read-only", "readonly variable",
            env.set("LOCKED", "x"))
        eq(env.get("LOCKED"), "frozen", "unchanged")
        fails(errors.PERMISSION_DENIED, "storage is read-only", "os storage",
            env.set("WIPPY_ENV_TEST", "x"))
        fails(errors.PERMISSION_DENIED, "storage is read-only", "static storage",
            env.set("GREETING", "x"))
        eq(env.get("GREETING"), "hello", "unchanged")
        fails(errors.PERMISSION_DENIED, "storage is read-only", "router, static first",
            env.set("ROUTED_RO", "x"))
    end)

    test("router", function()
        eq(env.get("ROUTED"), "from-static", "not in memory: the static value")
        eq(env.set("ROUTED", "from-mem"), true, "writes go to the first (memory)")
        eq(env.get("ROUTED"), "from-mem", "the first storage holding it")
        eq(run("app:reader", "ROUTED"), "from-mem", "another process")
        eq(env.get("ROUTED_RO"), "static-first", "static first")
    end)

    test("get_all", function()
        local all, err = env.get_all()
        eq(err, nil, "no error")
        eq(type(all), "table", "a table")
        eq(all.WIPPY_ENV_TEST, "from-os", "os")
        eq(all.WIPPY_ENV_UNDECLARED, "secret", "os, undeclared")
        eq(all.WIPPY_ENV_EMPTY, "", "os, empty")
        eq(all.GREETING, "hello", "static")
        eq(all.STATIC_ONLY, "undeclared", "static, undeclared")
        eq(all["app:secret"], "s3cret", "static, under an id")
        eq(all.NUMBER, "42", "static number")
        eq(all.COUNTER, "7", "memory")
        eq(all["app:fresh"], "new", "memory, under an id")
        eq(all.WIPPY_ENV_MISSING, nil, "defaults are not values")
        eq(all.LOCKED, nil, "never set")
        for k, v in pairs(all) do
            check(type(k) == "string" and type(v) == "string", "string pairs: " .. tostring(k))
        end
        all.GREETING = "changed"
        eq(env.get("GREETING"), "hello", "a fresh table")
    end)

    t.finish()
end

return { main = main }
