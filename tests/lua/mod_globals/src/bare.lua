-- a process with no modules: only the always-available globals exist
return {
    main = function()
        local r = {}
        for _, name in ipairs({ "time", "json", "logger", "funcs", "io" }) do
            local ok, err = pcall(require, name)
            r[name] = { global = type(rawget(_G, name)), require_ok = ok, err = tostring(err) }
        end
        for _, name in ipairs({ "process", "channel", "errors", "payload", "coroutine", "string",
                                "table", "math", "os" }) do
            local ok, v = pcall(require, name)
            r[name] = { global = type(rawget(_G, name)), require_ok = ok, same = ok and v == _G[name] }
        end
        r.spawn = type(coroutine.spawn)
        r.leak = rawget(_G, "my_global_value")
        return r
    end,
}
