-- mod_registry: the `registry` module (spec 10 §1): parse_id, get, find
-- with every criteria form and operator, the entry table's shape, fresh
-- tables per call, snapshots, versions, the history and every error row.
-- The entries are those of this case's src/: namespaces app, app.jobs
-- (file-level meta), conf and conf.sub.
local test, check, eq, same = t.test, t.check, t.eq, t.same

local ALL = 13 -- entries in this case's definition files

-- The ids of a list of entries, sorted.
local function ids(list)
    local out = {}
    for i, e in ipairs(list) do out[i] = e.id end
    table.sort(out)
    return out
end

-- find(criteria) returns exactly the entries `want` (ids, any order).
local function finds(criteria, want, what)
    local list = registry.find(criteria)
    eq(type(list), "table", what .. ": type")
    table.sort(want)
    same(ids(list), want, what)
end

-- find(criteria) returns every entry: the criteria were ignored.
local function ignored(criteria, what)
    eq(#registry.find(criteria), ALL, what)
end

-- The call failed with kind and exactly msg, not retryable.
local function fails(kind, msg, what, v, err)
    t.fails(kind, nil, what, v, err)
    eq(err:message(), msg, what .. ": message")
    eq(tostring(err), msg, what .. ": tostring")
    eq(err:retryable(), false, what .. ": retryable")
    check(errors.is(err, kind), what .. ": errors.is")
end

-- An entry table has id, kind, meta and (maybe) data, nothing else.
local function shape(e, what)
    eq(type(e), "table", what .. ": type")
    eq(type(e.id), "string", what .. ": id")
    eq(type(e.kind), "string", what .. ": kind")
    eq(type(e.meta), "table", what .. ": meta")
    for k in pairs(e) do
        check(k == "id" or k == "kind" or k == "meta" or k == "data", what .. ": extra field " .. tostring(k))
    end
end

local JOBS = { "app.jobs:cleanup", "app.jobs:report", "app.jobs:backup.daily" }

local function main()
    test("module availability", function()
        eq(require("registry"), registry, "require('registry')")
        for _, name in ipairs({ "parse_id", "get", "find", "snapshot", "snapshot_at",
            "current_version", "versions", "history" }) do
            eq(type(registry[name]), "function", name)
        end
    end)

    test("parse_id: first colon, bare names, fresh tables, raises", function()
        same(registry.parse_id("app:test"), { ns = "app", name = "test" }, "ns:name")
        same(registry.parse_id("app.jobs:backup.daily"), { ns = "app.jobs", name = "backup.daily" }, "dots")
        same(registry.parse_id("a:b:c"), { ns = "a", name = "b:c" }, "first colon")
        same(registry.parse_id("plain"), { ns = "", name = "plain" }, "bare")
        same(registry.parse_id(":x"), { ns = "", name = "x" }, ":x")
        same(registry.parse_id("x:"), { ns = "x", name = "" }, "x:")
        same(registry.parse_id(""), { ns = "", name = "" }, "empty")
        same(registry.parse_id("a\0b:c"), { ns = "a\0b", name = "c" }, "NUL byte kept")
        local a, b = registry.parse_id("n:m"), registry.parse_id("n:m")
        check(a ~= b, "fresh table per call")
        eq(select("#", registry.parse_id("n:m")), 1, "one result")
        t.raises("string expected", "parse_id()", registry.parse_id)
        t.raises("string expected", "parse_id({})", registry.parse_id, {})
        t.raises("string expected", "parse_id(true)", registry.parse_id, true)
    end)

    test("get: entry table, merged meta, data with file:// text", function()
        local e = registry.get("app.jobs:report")
        shape(e, "report")
        eq(e.id, "app.jobs:report", "id")
        eq(e.kind, "function.lua", "kind")
        same(e.meta, {
            type = "job", owner = "ops", -- from the file-level meta
            order = 1, weight = 2.5, enabled = true,
            tags = { "frontend", "weekly" }, -- the entry's own wins
            title = "Weekly report",
            ["command.name"] = "report-cmd",
            command = { name = "nested", args = { "a", "b" } },
        }, "meta")
        eq(math.type(e.meta.order), "integer", "integer meta")
        eq(e.data.method, "report", "data.method")
        t.contains(e.data.source, "job.lua: the job functions", "data.source is the file's text")
        eq(e.data.name, nil, "no name in data")
        eq(e.data.kind, nil, "no kind in data")
        eq(e.data.meta, nil, "no meta in data")

        local b = registry.get("app.jobs:backup.daily")
        same(b.meta, { type = "job", owner = "storage", tags = { "batch" }, order = 3,
            enabled = false, title = "backup-daily" }, "backup meta: file meta under the entry's")
        same(b.data.pool, { size = 2, workers = { 1, 2.5, true, "x" } }, "nested data")
        same(b.data.modules, nil, "no modules")
        same(registry.get("app.jobs:cleanup").data.modules, { "time" }, "modules list")

        local w = registry.get("app:worker")
        t.contains(w.data.source, "job.lua: the job functions", "file:///root-relative")
        eq(w.data.method, "main", "method")
        same(w.data.modules, { "registry" }, "modules")
        same(w.meta, {}, "no meta: {}")
    end)

    test("get: entries without data, explicit data:, file:// in meta", function()
        local bare = registry.get("conf:bare")
        shape(bare, "bare")
        same(bare, { id = "conf:bare", kind = "registry.entry", meta = {} }, "no data: absent")
        eq(bare.data, nil, "data nil")
        local ex = registry.get("conf:explicit")
        same(ex, {
            id = "conf:explicit", kind = "config.value",
            meta = { description = "explicit data" }, -- a null meta value is nil in Lua
            data = { port = 8080, ratio = 0.5, hosts = { "a", "b" }, nested = { deep = { flag = true } } },
        }, "explicit data")
        local inl = registry.get("conf:inline")
        same(inl.data, { value = 42, text = "line one\nline two\n" }, "inline data, file:// resolved")
        eq(inl.meta.doc, "line one\nline two\n", "file:// in meta resolved")
    end)

    test("get: fresh tables per call, changes affect nothing", function()
        local a = registry.get("app.jobs:report")
        local b = registry.get("app.jobs:report")
        check(a ~= b and a.meta ~= b.meta and a.data ~= b.data, "distinct tables")
        check(a.meta.tags ~= b.meta.tags and a.meta.command ~= b.meta.command, "distinct nested tables")
        a.id = "x"; a.meta.type = "changed"; a.meta.tags[1] = "zzz"; a.data.method = "m"; a.extra = 1
        local c = registry.get("app.jobs:report")
        eq(c.id, "app.jobs:report", "id unchanged")
        eq(c.meta.type, "job", "meta unchanged")
        eq(c.meta.tags[1], "frontend", "nested unchanged")
        eq(c.data.method, "report", "data unchanged")
        eq(c.extra, nil, "no extra")
        eq(#registry.find({ ["meta.type"] = "changed" }), 0, "find sees no change")
    end)

    test("get: errors", function()
        fails(errors.NOT_FOUND, "entry not found: app:nope", "unknown", registry.get("app:nope"))
        fails(errors.NOT_FOUND, "entry not found: :test", "bare name: no namespace defaulting",
            registry.get("test"))
        fails(errors.NOT_FOUND, "entry not found: :", "empty", registry.get(""))
        fails(errors.NOT_FOUND, "entry not found: APP:test", "case-sensitive", registry.get("APP:test"))
        fails(errors.NOT_FOUND, "entry not found: app:test\0x", "NUL byte", registry.get("app:test\0x"))
        fails(errors.NOT_FOUND, "entry not found: app.jobs:", "namespace only", registry.get("app.jobs:"))
        local v, err = registry.get("app:nope")
        check(string.find(err, "not found"), "string.find on the error")
        t.raises("string expected", "get()", registry.get)
        t.raises("string expected", "get({})", registry.get, {})
        t.raises("string expected", "get(false)", registry.get, false)
    end)

    test("find: {} gives every entry, each well formed", function()
        local all = registry.find({})
        eq(#all, ALL, "count")
        local seen = {}
        for i, e in ipairs(all) do
            shape(e, "entry " .. i)
            check(not seen[e.id], "id repeated: " .. e.id)
            seen[e.id] = true
            same(e, registry.get(e.id), "find and get agree on " .. e.id)
        end
        eq(select("#", registry.find({})), 1, "one result")
    end)

    test("find: .kind exact and globs", function()
        finds({ [".kind"] = "process.lua" }, { "app:test", "app:worker" }, "exact")
        finds({ [".kind"] = "function.*" }, { "app.jobs:cleanup", "app.jobs:report",
            "app.jobs:backup.daily", "app.jobs:disabled" }, "prefix glob")
        eq(#registry.find({ [".kind"] = "*.lua" }), 7, "suffix glob")
        finds({ [".kind"] = "*host" }, { "app:terminal", "app:processes" }, "*host")
        finds({ [".kind"] = "process*lua" }, { "app:test", "app:worker" }, "middle glob")
        finds({ [".kind"] = "*" }, ids(registry.find({})), "* matches all")
        finds({ [".kind"] = "process" }, {}, "no partial match without *")
        finds({ [".kind"] = "nothing" }, {}, "no match: {}")
    end)

    test("find: .ns, .name, .id", function()
        eq(#registry.find({ [".ns"] = "app" }), 5, ".ns exact: not app.jobs")
        eq(#registry.find({ [".ns"] = "app*" }), 9, ".ns glob")
        finds({ [".ns"] = "conf*" }, { "conf:bare", "conf:explicit", "conf:inline", "conf.sub:leaf" }, "conf*")
        finds({ [".ns"] = "*.sub" }, { "conf.sub:leaf" }, "*.sub")
        finds({ [".name"] = "backup.*" }, { "app.jobs:backup.daily" }, ".name glob")
        finds({ [".name"] = "test" }, { "app:test" }, ".name exact")
        finds({ [".name"] = "*e*f*" }, { "conf.sub:leaf" }, "two stars")
        finds({ [".id"] = "app.jobs:*" }, { "app.jobs:cleanup", "app.jobs:report",
            "app.jobs:backup.daily", "app.jobs:disabled" }, ".id glob")
        finds({ [".id"] = "*:leaf" }, { "conf.sub:leaf" }, "*:leaf")
        finds({ [".id"] = "conf:bare" }, { "conf:bare" }, ".id exact")
        finds({ [".id"] = "bare" }, {}, ".id is the full id")
        ignored({ [".kind"] = 5 }, "non-string .kind ignored")
        ignored({ [".ns"] = true, [".name"] = {}, [".id"] = 1 }, "non-string root values ignored")
    end)

    test("find: meta. equality", function()
        finds({ ["meta.type"] = "job" }, { "app.jobs:cleanup", "app.jobs:report",
            "app.jobs:backup.daily", "conf.sub:leaf" }, "meta.type (file-level meta)")
        finds({ ["meta.owner"] = "ops" }, { "app.jobs:cleanup", "app.jobs:report", "app.jobs:disabled" },
            "file meta overridden by the entry's")
        finds({ ["meta.enabled"] = true }, { "app.jobs:report" }, "boolean true")
        finds({ ["meta.enabled"] = false }, { "app.jobs:backup.daily" }, "boolean false")
        finds({ ["meta.order"] = 1 }, { "app.jobs:report" }, "integer")
        finds({ ["meta.order"] = 1.0 }, { "app.jobs:report" }, "float equals integer")
        finds({ ["meta.weight"] = 2.5 }, { "app.jobs:report" }, "float")
        finds({ ["meta.order"] = "1" }, {}, "string does not equal a number")
        finds({ ["meta.enabled"] = "true" }, {}, "string does not equal a boolean")
        finds({ ["meta.tags"] = "backend" }, {}, "an array does not equal a string")
        finds({ ["meta.command.name"] = "report-cmd" }, { "app.jobs:report" }, "literal dotted key")
        finds({ ["meta.command.name"] = "nested" }, {}, "not a nested path")
        finds({ ["meta.command"] = "nested" }, {}, "a map equals no string")
        finds({ ["meta.command"] = {} }, {}, "table values equal nothing")
        finds({ ["meta.nothing"] = "x" }, {}, "null meta value")
        finds({ ["meta.missing"] = "x" }, {}, "missing field")
        finds({ ["meta.title"] = "Weekly" }, {}, "equality is exact")
    end)

    test("find: all criteria must hold", function()
        finds({ ["meta.type"] = "job", [".kind"] = "function.lua" }, JOBS, "meta + .kind")
        finds({ ["meta.type"] = "job", ["meta.order"] = 2 }, { "app.jobs:cleanup" }, "two meta")
        finds({ ["meta.type"] = "job", [".ns"] = "conf*" }, { "conf.sub:leaf" }, "meta + .ns")
        finds({ ["meta.type"] = "job", ["meta.order"] = 4 }, {}, "no entry has both")
        finds({ ["meta.type"] = "job", kind = "config.value" }, { "app.jobs:cleanup", "app.jobs:report",
            "app.jobs:backup.daily", "conf.sub:leaf" }, "ignored keys do not narrow")
    end)

    test("find: ~meta. regular expressions", function()
        finds({ ["~meta.title"] = "^[A-Z][a-z]+ report$" }, { "app.jobs:report" }, "anchored")
        finds({ ["~meta.title"] = "(R|r)e(port|gistry)" }, { "app.jobs:report", "app:test" }, "alternation")
        finds({ ["~meta.title"] = "up" }, { "app.jobs:cleanup", "app.jobs:backup.daily" }, "unanchored")
        finds({ ["~meta.schedule"] = "^0 3 \\* \\* \\*$" }, { "app.jobs:cleanup" }, "escapes")
        finds({ ["~meta.title"] = "daily$", [".kind"] = "function.lua" }, { "app.jobs:backup.daily" }, "with .kind")
        finds({ ["~meta.order"] = "1" }, {}, "a number field is not a string")
        finds({ ["~meta.tags"] = "back" }, {}, "an array is not a string")
        eq(#registry.find({ ["~meta.title"] = "(" }), ALL, "invalid expression ignored")
        eq(#registry.find({ ["~meta.title"] = "[", [".kind"] = "process.lua" }), 2,
            "invalid expression ignored, others hold")
        ignored({ ["~meta.title"] = 5 }, "non-string value ignored")
    end)

    test("find: *meta. ^meta. $meta. operators", function()
        finds({ ["*meta.tags"] = "back" }, { "app.jobs:cleanup" }, "array element substring")
        finds({ ["*meta.tags"] = "batch" }, { "app.jobs:backup.daily", "app.jobs:disabled" },
            "file-level array")
        finds({ ["*meta.tags"] = "ly" }, { "app.jobs:cleanup", "app.jobs:report" }, "any element")
        finds({ ["*meta.title"] = "report" }, { "app.jobs:report" }, "string substring")
        finds({ ["*meta.title"] = "" }, { "app:test", "app.jobs:cleanup", "app.jobs:report",
            "app.jobs:backup.daily" }, "empty substring: every string field")
        finds({ ["*meta.command"] = "nested" }, {}, "a map contains nothing")
        finds({ ["^meta.title"] = "Clean" }, { "app.jobs:cleanup" }, "prefix")
        finds({ ["^meta.title"] = "clean" }, {}, "prefix is case-sensitive")
        finds({ ["$meta.title"] = "daily" }, { "app.jobs:backup.daily" }, "suffix")
        finds({ ["$meta.title"] = "Weekly report!" }, {}, "suffix longer than the field")
        finds({ ["^meta.tags"] = "back" }, {}, "prefix on an array")
        finds({ ["$meta.order"] = "1" }, {}, "suffix on a number")
        finds({ ["*meta.tags"] = "back", ["^meta.title"] = "Clean", ["$meta.schedule"] = "* *" },
            { "app.jobs:cleanup" }, "combined")
        ignored({ ["*meta.tags"] = 1, ["^meta.title"] = true, ["$meta.title"] = {} },
            "non-string operator values ignored")
    end)

    test("find: keys of other forms are ignored", function()
        ignored({ kind = "function.lua" }, "bare kind")
        ignored({ ns = "app", name = "test", id = "app:test" }, "bare ns/name/id")
        ignored({ type = "job" }, "bare type")
        ignored({ meta = { type = "job" } }, "nested meta table")
        ignored({ ["~kind"] = "x", ["*title"] = "x", ["^.kind"] = "x", ["$meta"] = "x" },
            "operators without meta.")
        ignored({ ["Meta.type"] = "job", ["meta"] = "job", [".KIND"] = "x" }, "other spellings")
        ignored({ "function.lua", [2] = "x", [true] = "x" }, "non-string keys")
    end)

    test("find: fresh tables; argument type raises", function()
        local a = registry.find({ [".id"] = "app.jobs:report" })
        local b = registry.find({ [".id"] = "app.jobs:report" })
        check(a ~= b and a[1] ~= b[1] and a[1].meta ~= b[1].meta, "distinct tables")
        a[1].meta.type = "x"
        a[2] = "junk"
        eq(#registry.find({ [".id"] = "app.jobs:report", ["meta.type"] = "job" }), 1, "unchanged")
        local crit = { ["meta.type"] = "job" }
        registry.find(crit)
        same(crit, { ["meta.type"] = "job" }, "criteria table untouched")
        t.raises("table expected", "find()", registry.find)
        t.raises("table expected", "find('x')", registry.find, ".kind")
        t.raises("table expected", "find(5)", registry.find, 5)
    end)

    test("snapshot: entries, get, namespace, find, version, tostring", function()
        local s = registry.snapshot()
        eq(type(s), "userdata", "type")
        local list, extra = s:entries()
        eq(select("#", s:entries()), 2, "entries returns array, nil")
        eq(extra, nil, "second value nil")
        eq(#list, ALL, "all entries")
        same(ids(list), ids(registry.find({})), "same entries as find({})")
        check(list ~= s:entries(), "fresh array")
        same(s:get("app.jobs:report"), registry.get("app.jobs:report"), "get")
        fails(errors.NOT_FOUND, "entry not found: app:nope", "s:get unknown", s:get("app:nope"))
        fails(errors.NOT_FOUND, "entry not found: :test", "s:get bare", s:get("test"))
        same(ids(s:namespace("app.jobs")), { "app.jobs:backup.daily", "app.jobs:cleanup",
            "app.jobs:disabled", "app.jobs:report" }, "namespace")
        eq(#s:namespace("app"), 5, "namespace exact")
        eq(#s:namespace("app*"), 0, "namespace: no glob")
        eq(#s:namespace(""), 0, "empty namespace")
        eq(select("#", s:namespace("app")), 1, "namespace: one value")
        same(ids(s:find({ ["meta.type"] = "job", [".kind"] = "function.lua" })), (function()
            local j = { table.unpack(JOBS) }; table.sort(j); return j end)(), "find")
        eq(select("#", s:find({})), 1, "find: one value")
        eq(#s:find({ [".kind"] = "none" }), 0, "find: no match")
        eq(s:version():id(), registry.current_version():id(), "version")
        local text = tostring(s)
        check(text:match("^registry%.Snapshot{version=v%d+}$"), "tostring: " .. text)
        eq(text, "registry.Snapshot{version=" .. s:version():string() .. "}", "tostring version")
        eq(s.changes, nil, "no changes(): the registry is read-only")
        t.raises("string expected", "s:get()", s.get, s)
        t.raises("string expected", "s:namespace()", s.namespace, s)
        t.raises("table expected", "s:find()", s.find, s)
        t.raises("registry.Snapshot expected", "entries on a non-snapshot", s.entries, {})
    end)

    test("versions: current, list, previous/next, snapshot_at", function()
        local v = registry.current_version()
        eq(type(v), "userdata", "type")
        local n = v:id()
        eq(math.type(n), "integer", "id is an integer")
        check(n >= 0, "id >= 0")
        eq(v:string(), "v" .. n, "string")
        eq(tostring(v), "registry.Version{v" .. n .. "}", "tostring")
        eq(v:previous(), nil, "previous")
        eq(v:next(), nil, "next")
        check(v == registry.current_version(), "versions with one id are equal")
        local vs = registry.versions()
        eq(#vs, 1, "one version kept")
        eq(vs[1]:id(), n, "it is the current one")
        local s = registry.snapshot_at(n)
        eq(s:version():id(), n, "snapshot_at(current)")
        eq(#s:entries(), ALL, "its entries")
        fails(errors.INVALID, "invalid version ID", "snapshot_at(0)", registry.snapshot_at(0))
        fails(errors.INVALID, "invalid version ID", "snapshot_at(-1)", registry.snapshot_at(-1))
        fails(errors.NOT_FOUND, "version not found", "snapshot_at(n+1)", registry.snapshot_at(n + 1))
        fails(errors.NOT_FOUND, "version not found", "snapshot_at(n+0.5)", registry.snapshot_at(n + 0.5))
        t.raises("number expected", "snapshot_at()", registry.snapshot_at)
        t.raises("number expected", "snapshot_at('x')", registry.snapshot_at, "x")
        t.raises("number expected", "snapshot_at({})", registry.snapshot_at, {})
        t.raises("registry.Version expected", "id on a non-version", v.id, {})
    end)

    test("history: versions, get_version, snapshot_at, tostring", function()
        local h = registry.history()
        eq(type(h), "userdata", "type")
        eq(tostring(h), "registry.History{}", "tostring")
        local n = registry.current_version():id()
        local vs = h:versions()
        eq(#vs, 1, "versions")
        eq(vs[1]:id(), n, "the current version")
        eq(h:get_version(n):id(), n, "get_version")
        fails(errors.INVALID, "invalid version ID", "get_version(-1)", h:get_version(-1))
        if n ~= 0 then
            fails(errors.NOT_FOUND, "version not found", "get_version(0)", h:get_version(0))
        end
        fails(errors.NOT_FOUND, "version not found", "get_version(n+1)", h:get_version(n + 1))
        eq(h:snapshot_at(vs[1]):version():id(), n, "snapshot_at(Version)")
        eq(h:snapshot_at(n):version():id(), n, "snapshot_at(number)")
        fails(errors.NOT_FOUND, "version not found", "snapshot_at(n+1)", h:snapshot_at(n + 1))
        t.raises("number expected", "get_version('x')", h.get_version, h, "x")
        t.raises("registry.History expected", "versions on a non-history", h.versions, {})
    end)

    return t.finish()
end

return { main = main }
