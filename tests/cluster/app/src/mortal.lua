-- Watched from another node (tests/cluster/run.sh): "end" returns "calm",
-- "die" raises "doomed".
return { main = function()
    local msg = process.inbox():receive()
    if msg:topic() == "die" then error("doomed") end
    return "calm"
end }
