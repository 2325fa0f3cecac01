-- Test functions for the runner's own check: one passes (returns nothing),
-- the others fail each way a Wippy test can.
return {
    passes = function() end,
    returns_false = function(): boolean return false end,
    raises = function() error("raised on purpose") end,
    returns_error = function(): (any, any) return nil, errors.new("returned on purpose") end,
}
