-- Links itself to a process that fails: killed by the link.
local function main()
    process.spawn_linked("app:bad", "app:processes")
    process.inbox():receive()
end
return { main = main }
