-- Receives arguments of every Lua type, waits for "go" (sent after the parent
-- mutated its originals), then reports what it sees and echoes the table back.
local function main(parent, a_nil, a_true, a_false, a_int, a_float, a_str, a_big,
                    a_tbl, a_fn, a_chan, a_err, a_maxint, a_neg, a_empty, a_last)
    local inbox = process.inbox()
    local report = {
        types = {
            a_nil = type(a_nil), a_true = type(a_true), a_false = type(a_false),
            a_int = math.type(a_int), a_float = math.type(a_float), a_str = type(a_str),
            a_tbl = type(a_tbl), a_fn = type(a_fn), a_chan = type(a_chan),
            a_err = type(a_err), a_empty = type(a_empty),
        },
        a_true = a_true, a_false = a_false, a_int = a_int, a_float = a_float,
        a_str = a_str, a_big_len = a_big and #a_big, a_maxint = a_maxint, a_neg = a_neg,
        a_last = a_last, empty_next = a_empty and next(a_empty) == nil,
    }
    -- wait until the parent has mutated its originals
    local go = inbox:receive()
    report.go = go:topic()
    if type(a_tbl) == "table" then
        report.shared_same = rawequal(a_tbl.a, a_tbl.b)
        report.cycle_ok = rawequal(a_tbl.cyc.self, a_tbl.cyc)
        report.deep_cycle_ok = rawequal(a_tbl.nested.up, a_tbl)
        report.shared_k = a_tbl.a.k
        report.deeper1 = a_tbl.nested.deep.deeper[1]
        report.deeper_len = #a_tbl.nested.deep.deeper
        report.one = a_tbl[1]
        report.float_key = a_tbl[2.5]
        report.bool_key = a_tbl[true]
        report.fn_field = type(a_tbl.fn)
        report.chan_field = type(a_tbl.chan)
        report.array = a_tbl.array
    end
    if type(a_err) == "userdata" then
        report.err_message = a_err:message()
        report.err_kind = a_err:kind()
        report.err_retryable = a_err:retryable()
        local d = a_err:details()
        report.err_detail_x = d and d.x
    end
    -- payload copy of the message sent with process.send
    local data_msg = inbox:receive()
    local data = data_msg:payload():data()
    report.msg_x = data.x
    report.msg_list1 = data.list[1]
    process.send(parent, "report", report, a_tbl)
    return 0
end
return { main = main }
