return {
    main = function()
        logger:info("logger-child-message", { in_child = "yes" })
        return "logged"
    end,
}
