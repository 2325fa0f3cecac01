-- Run without a collector (no --metrics): every call is nil, Internal.
local function main()
    local ok, err = metrics.counter_inc("x_total")
    if ok == nil and err and err:kind() == "Internal" then
        print("nometrics ok: " .. tostring(err))
        return 0
    end
    print("nometrics FAIL: " .. tostring(ok) .. " " .. tostring(err))
    return 1
end
return { main = main }
