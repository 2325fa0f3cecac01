-- probe.lua: env.get("shared") from namespace other.
local function main()
    return (env.get("shared"))
end
return { main = main }
