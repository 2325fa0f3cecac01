type Job = {id: integer, input: integer}

local function square(job: Job): integer
    return job.input * job.input
end

local function main(mode: string, job: Job): integer
    if mode == "fail" then
        error("typed child failed") -- line 9
    end
    return square(job)
end

return { main = main }
