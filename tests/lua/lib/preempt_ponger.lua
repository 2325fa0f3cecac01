local function main()
    local inbox = process.inbox()
    while true do
        local msg = inbox:receive()
        if msg:topic() == "ping" then
            local body = msg:payload():data()
            process.send(body.reply_to, "pong", body.n)
        elseif msg:topic() == "quit" then
            return 0
        end
    end
end
return { main = main }
