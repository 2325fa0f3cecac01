-- show(what, ok, err): prints a call's outcome as one line the test matches:
-- "WHAT OK", or "WHAT OK KIND MESSAGE" when it returned an error.
return function(what, ok, err)
    if err then
        io.print(what .. " " .. tostring(ok) .. " " .. err:kind() .. " " .. err:message())
    else
        io.print(what .. " " .. tostring(ok))
    end
end
