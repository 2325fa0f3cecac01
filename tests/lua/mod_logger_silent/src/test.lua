-- mod_logger_silent: under -x without a log flag, logging is silent
-- (reject_output checks the records appear nowhere), but the calls succeed.

local function main()
    t.test("logger calls succeed while silent", function()
        logger:info("logger-silent-message", { a = 1 })
        logger:warn("logger-silent-message")
        logger:error("logger-silent-message", { error = "x" })
        logger:debug("logger-silent-message")
        logger:with({ b = 2 }):named("n"):info("logger-silent-message")
        print("logger-silent-message")
        local pid = assert(process.spawn_monitored("app:child", "app:processes"))
        t.eq(t.wait_exit(pid).result.value, "logged", "child")
    end)
    return t.finish()
end

return { main = main }
