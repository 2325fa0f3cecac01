-- dist_down's target (node B): a process that only waits; a watcher on
-- node A monitors it, and node B is then killed or stopped under it.
local function main()
    process.inbox():receive()
    return 0
end

return { main = main }
