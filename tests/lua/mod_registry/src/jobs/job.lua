-- job.lua: the job functions of mod_registry (and a process main).
local function cleanup() return "cleaned" end
local function report() return "reported" end
local function backup() return "backed up" end
local function main() return 0 end
return { cleanup = cleanup, report = report, backup = backup, main = main }
