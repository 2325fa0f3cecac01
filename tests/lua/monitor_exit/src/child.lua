-- Ends in the way selected by `mode`. Line numbers matter: the raise is on line 6.
local function main(mode)
    if mode == "value" then
        return { answer = 42, list = { "a", "b" } }
    elseif mode == "raise" then
        error("kaboom")
    elseif mode == "nil_text" then
        return nil, "text error"
    elseif mode == "err_obj" then
        return nil, errors.new({ message = "custom", kind = errors.NOT_FOUND, retryable = true })
    elseif mode == "err_plain" then
        return nil, errors.new("plain")
    elseif mode == "nothing" then
        return
    elseif mode == "raise_obj" then
        error(errors.new({ message = "raised obj", kind = errors.INVALID }))
    end
    return "unknown mode"
end
return { main = main }
