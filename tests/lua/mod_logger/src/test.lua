-- mod_logger: the `logger` module (spec 05 §4). This case runs with -c -v;
-- expect_stdout checks the records (message, level, name and fields).

local function returns_nothing(what, ...)
    t.eq(select("#", ...), 0, what .. " returns nothing")
end

local function main()
    t.test("module availability", function()
        t.eq(require("logger"), logger, "require('logger')")
        t.eq(type(logger), "userdata", "the module is a logger object")
    end)

    t.test("levels with fields", function()
        returns_nothing("info", logger:info("logger-info-message", { answer = 42 }))
        returns_nothing("warn", logger:warn("logger-warn-message", { flag = true }))
        returns_nothing("error", logger:error("logger-error-message",
            { error = errors.new("logger-error-cause") }))
        returns_nothing("debug", logger:debug("logger-debug-message", { who = "dbg" }))
        returns_nothing("no fields", logger:info("logger-plain-message"))
        returns_nothing("nil fields", logger:info("logger-nil-fields", nil))
    end)

    t.test("field values", function()
        logger:info("logger-nested-message", { data = { a = 1 } })
        logger:info("logger-list-message", { list = { 1, "x" } })
        logger:info("logger-keys-message", { [1] = "ignored", [true] = "ignored", key = "v" })
        logger:info("logger-errfield-message", { e = errors.new("field-error-text") })
    end)

    t.test("with: a new logger carrying fields; the original unchanged", function()
        local w = logger:with({ ctx = "with-marker" })
        t.eq(type(w), "userdata", "with returns a logger")
        t.check(not rawequal(w, logger), "a new logger")
        w:info("logger-with-message")
        logger:info("logger-orig-message")
        w:with({ more = 2 }):info("logger-with2-message")
        w:named("sub"):info("logger-named-with-message")
    end)

    t.test("named: dot-appended names", function()
        local n = logger:named("sub")
        t.eq(type(n), "userdata", "named returns a logger")
        n:info("logger-named-message")
        logger:named("a"):named("b"):info("logger-dotted-message")
        t.raises("empty", "named('')", logger.named, logger, "")
    end)

    t.test("argument errors raise", function()
        t.raises(nil, "dot call logger.info('x')", logger.info, "x")
        t.raises(nil, "table message", logger.info, logger, {})
        t.raises(nil, "nil message", logger.warn, logger, nil)
        t.raises(nil, "no message", logger.error, logger)
        t.raises(nil, "debug table message", logger.debug, logger, { "x" })
    end)

    t.test("logger in another process", function()
        local pid = assert(process.spawn_monitored("app:child", "app:processes"))
        local r = t.wait_exit(pid).result
        t.eq(r.error, nil, "child error")
        t.eq(r.value, "logged", "child value")
    end)

    return t.finish()
end

return { main = main }
