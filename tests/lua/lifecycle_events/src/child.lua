local function main(parent, mode, target)
    if mode == "cancellable" then
        -- subscribe to events only after telling the parent it is ready, so a
        -- CANCEL sent in between must wait in the queue
        process.send(parent, "ready")
        local inbox = process.inbox()
        inbox:receive() -- "subscribe now"
        local ev = process.events():receive()
        return { kind = ev.kind, from = ev.from, reason = ev.reason, at = ev.at }
    elseif mode == "block" then
        process.send(parent, "ready")
        process.inbox():receive()
        return "released"
    elseif mode == "fail_on_msg" then
        process.send(parent, "ready")
        process.inbox():receive()
        error("linked child failed")
    elseif mode == "link_to" then
        -- does not trap links: dies when its linked partner fails
        local ok, err = process.link(target)
        if not ok then error("link failed: " .. tostring(err)) end
        process.send(parent, "ready")
        process.inbox():receive()
        return "not killed"
    end
end
return { main = main }
