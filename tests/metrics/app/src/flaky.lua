local function main()
    time.sleep("10ms")
    error("flaky by design")
end
return { main = main }
