local function main()
    io.print("PASS about to raise")
    error("boom")
end
return { main = main }
