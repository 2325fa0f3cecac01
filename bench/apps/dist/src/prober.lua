-- dist_down's prober (node A): sends "probe" to `target` (a pid on node B)
-- every millisecond until a send returns nil, err; then reports to the
-- parent when (wall clock, ns), the error's kind and message, and how many
-- probes went out.
local time = require("time")

local function main(parent, target)
    local k = 0
    while true do
        k = k + 1
        local ok, err = process.send(target, "probe", k)
        if not ok then
            process.send(parent, "unavailable", { at = time.now():unix_nano(), kind = err:kind(),
                                                  message = err:message(), probes = k })
            return 0
        end
        time.sleep("1ms")
    end
end

return { main = main }
