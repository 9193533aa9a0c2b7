// The OpenSIPS `json` module as a Switchyard plugin: JSON documents held in script variables.
//
//   $json(name/path), $json_compact(name/path), $json_pretty(name/path)   read (3 output styles) / write (= := NULL)
//   $(json(name/path)[*]), $(json(name/path.keys)[*]), $(json(...)[n])    iteration and indexes (ABI 1.2 count/get_index)
//   json_link($json(dest/path), $json(src/path))                         dest becomes a reference to src's node
//   modparam("json", "enable_long_quoting", 1)                           ints beyond 32 bits read as strings
//
// Documents are per worker (Documents.swift); the path grammar is in JSONPath.swift; the tree, the parser and the
// json-c output styles are SwitchyardJSON's JSONNode. See README.md next to this file for the exact semantics and the
// differences from OpenSIPS.
//
// No global state: the host table, the name table and the documents live in the JSONModule object, reached from the C
// exports through the kit's retained boxes.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import SwitchyardABI
import SwitchyardJSON
import SwitchyardPluginKit
import Synchronization

@_cdecl("switchyard_plugin_entry")
public func switchyardPluginEntry(_ raw: UnsafePointer<sy_host_api>?) -> UnsafePointer<sy_module_exports>? {
    guard let host = PluginHost(raw, module: JSONModule.name) else { return nil } // another ABI major: refuse
    return JSONModule(host: host).build().pointer // allocated once, never freed
}

final class JSONModule: Sendable {
    static let name = "json"
    static let version = "1.0.0"

    /// Where OpenSIPS allows json_link: every route but error_route.
    static let routes = RouteMask.all.subtracting(.error)

    /// Deepest nesting accepted, for `:=` (the parser refuses deeper text) and for json_link.
    static let maxDepth = 512

    let host: PluginHost
    let names = DocumentNames()
    let store = DocumentStore()
    let longQuoting = Atomic<Bool>(false)
    let parser = JSONParser(maxDepth: JSONModule.maxDepth)
    /// The core reports the worker of a context (ABI 1.2); otherwise documents are keyed by thread.
    let hasCtxWorker: Bool

    init(host: PluginHost) {
        self.host = host
        hasCtxWorker = host.provides(\.ctx_worker)
    }

    func build() -> ModuleExports {
        var m = ModuleExportsBuilder(host: host, name: Self.name, version: Self.version,
                                     description: "JSON documents in script variables ($json, json_link)")

        // modparam("json", "enable_long_quoting", 1)
        m.param("enable_long_quoting", .int) { [self] value in
            guard let v = value.intValue else { throw PluginError("expected 0 or 1") }
            longQuoting.store(v != 0, ordering: .relaxed)
        }

        // json_link($json(dest/path), $json(src/path))
        m.function("json_link", params: [.var, .var], routes: Self.routes) { [self] call in
            link(call)
        }

        // $json(...) with indexes and for-each; $json_compact(...) and $json_pretty(...) read in other styles.
        m.pseudoVariable("json", parse: { [self] inner in
            try parsePath(inner)
        }, get: { [self] ctx, path in
            get(ctx, path, style: .spaced)
        }, set: { [self] ctx, path, op, value in
            set(ctx, path, op, value)
        }, setRaw: { [self] ctx, path, op, raw in
            setRaw(ctx, path, op, raw)
        }, takesTrees: true, count: { [self] ctx, path in
            count(ctx, path)
        }, getIndex: { [self] ctx, path, index in
            element(ctx, path, index)
        })
        for (name, style) in [("json_compact", JSONNode.TextStyle.plain), ("json_pretty", .pretty)] {
            m.pseudoVariable(name, parse: { [self] inner in
                try parsePath(inner)
            }, get: { [self] ctx, path in
                get(ctx, path, style: style)
            }, set: { [self] ctx, path, op, value in
                set(ctx, path, op, value)
            }, setRaw: { [self] ctx, path, op, raw in
                setRaw(ctx, path, op, raw)
            }, takesTrees: true)
        }
        // Before any worker serves: what startup_route set becomes every worker's starting documents.
        m.onChildInit { [self] _ in
            if hasCtxWorker { store.takeStartupSnapshot() }
        }
        return m.build()
    }

    // MARK: Paths and documents

    /// Startup: the grammar is checked, variable segments resolved, the document name given a slot.
    func parsePath(_ inner: String) throws(PluginError) -> JSONPath {
        try JSONPath.parse(inner, slot: { names.slot(for: $0) }, varParse: { spec throws(PluginError) in
            try host.varParse(spec)
        })
    }

    /// The calling worker's documents.
    func documents(_ ctx: SYContext) -> WorkerDocuments {
        if hasCtxWorker, let f = host.raw.pointee.ctx_worker {
            return store.documents(forWorker: Int(f(ctx.raw)))
        }
        #if canImport(Darwin)
        let thread = Int(bitPattern: UInt(bitPattern: pthread_self()))
        #else
        let thread = Int(bitPattern: UInt(pthread_self()))
        #endif
        return store.documents(forWorker: thread)
    }

    /// The path with its variables evaluated now (expand_tag_list): a key variable must have a string value (an int is
    /// taken as its decimal text), an index variable an int. Nil (logged) otherwise.
    func resolve(_ ctx: SYContext, _ path: JSONPath) -> [JSONPath.Resolved]? {
        if let fixed = path.staticSteps { return fixed }
        var out: [JSONPath.Resolved] = []
        out.reserveCapacity(path.steps.count)
        for step in path.steps {
            switch step {
            case .key(let k): out.append(.key(k))
            case .index(let i): out.append(.index(i))
            case .append: out.append(.append)
            case .keyVariable(let v, let spec):
                switch host.varGet(ctx, v) {
                case .string(let s)?: out.append(.key(s))
                case .int(let i)?: out.append(.key(String(i)))
                default:
                    host.log(.err, "$json(\(path.text)): non string value in key \(spec): cannot expand variables in path")
                    return nil
                }
            case .indexVariable(let v, let spec):
                guard case .int(let i)? = host.varGet(ctx, v) else {
                    host.log(.err, "$json(\(path.text)): non integer value in index \(spec): cannot expand variables in path")
                    return nil
                }
                out.append(.index(Int(i)))
            }
        }
        return out
    }

    /// Walks `steps` from `root` (get_object): a key needs an object holding it, an index an array (negative from the
    /// end) with that position; `[]` never reads. Nil when not found.
    static func walk(_ root: JSONNode, _ steps: some Collection<JSONPath.Resolved>) -> JSONNode? {
        var cur = root
        for step in steps {
            switch step {
            case .key(let k):
                guard case .object(let o) = cur, let v = o[k] else { return nil }
                cur = v
            case .index(let i):
                guard case .array(let a) = cur else { return nil }
                let p = i < 0 ? i + a.items.count : i
                guard p >= 0, p < a.items.count else { return nil }
                cur = a.items[p]
            case .append:
                return nil
            }
        }
        return cur
    }

    /// The node `path` designates now, or nil (unset or cleared document, missing key, type mismatch...).
    func find(_ ctx: SYContext, _ path: JSONPath, in docs: WorkerDocuments) -> JSONNode? {
        guard let steps = resolve(ctx, path) else { return nil }
        guard case .node(let root) = docs[path.slot] else { return nil }
        return Self.walk(root, steps)
    }

    // MARK: Reading

    /// pv_get_json: NULL when not found (silently), as described in README.md.
    func get(_ ctx: SYContext, _ path: JSONPath, style: JSONNode.TextStyle) -> SYValue {
        let docs = documents(ctx)
        if docs.probing {
            docs.probed = path // json_link asking which spec this is: answer without evaluating anything
            return .null
        }
        guard let node = find(ctx, path, in: docs) else { return .null }
        return scriptValue(node, style: style)
    }

    /// A JSON value as a script value: int → int (clamped to 32 bits, or a string beyond them with
    /// enable_long_quoting), string → its raw text, null → NULL, true/false → "true"/"false", another number → its
    /// text as parsed, object/array → serialised in `style`.
    func scriptValue(_ node: JSONNode, style: JSONNode.TextStyle) -> SYValue {
        switch node {
        case .null: return .null
        case .int(let i):
            if i > Int64(Int32.max) || i < Int64(Int32.min) {
                if longQuoting.load(ordering: .relaxed) { return .string(String(i)) }
                return .int(i > 0 ? Int64(Int32.max) : Int64(Int32.min)) // json_object_get_int clamps
            }
            return .int(i)
        case .string(let s): return .string(s)
        case .bool(let b): return .string(b ? "true" : "false")
        case .double(_, let text): return .string(text)
        case .array, .object: return .string(node.text(style))
        }
    }

    // MARK: Iteration

    /// How many values `$(json(path)[*])` walks: an object's members (values, or names with `.keys`), an array's
    /// items (none with `.keys`/`.values`), nothing for a scalar or a missing path.
    func count(_ ctx: SYContext, _ path: JSONPath) -> Int64 {
        guard let node = find(ctx, path, in: documents(ctx)) else { return 0 }
        switch node {
        case .object(let o):
            return Int64(o.count)
        case .array(let a):
            guard path.iteration == .none else {
                host.log(.dbg, "$json(\(path.text)): invalid object-like iteration for arrays")
                return 0
            }
            return Int64(a.count)
        default:
            host.log(.dbg, "$json(\(path.text)): can only iterate over arrays or objects")
            return 0
        }
    }

    /// The n-th value of `$(json(path)[*])` (n >= 0), converted like a read; nil when out of range.
    func element(_ ctx: SYContext, _ path: JSONPath, _ n: Int64) -> SYValue? {
        guard let node = find(ctx, path, in: documents(ctx)), n >= 0 else { return nil }
        let i = Int(n)
        switch node {
        case .object(let o):
            guard i < o.count else { return nil }
            let member = o.members[i]
            return path.iteration == .keys ? .string(member.key) : scriptValue(member.value, style: .spaced)
        case .array(let a):
            guard path.iteration == .none, i < a.count else { return nil }
            return scriptValue(a.items[i], style: .spaced)
        default:
            return nil
        }
    }

    // MARK: Writing

    /// pv_set_json: `=` stores an int or a string as a JSON scalar; `:=` parses a string (an int is stored as an int);
    /// NULL deletes. A failed parse logs, deletes the target and fails.
    func set(_ ctx: SYContext, _ path: JSONPath, _ op: AssignOp, _ value: SYValue) -> Bool {
        let docs = documents(ctx)
        guard let steps = resolve(ctx, path) else { return false }
        let node: JSONNode?
        switch value {
        case .null:
            node = nil
        case .int(let i):
            node = .int(i)
        case .string(let s):
            guard op == .colonAssign else {
                node = .string(s)
                break
            }
            do {
                let parsed = try parser.parseNode(s)
                if parsed.isNull {
                    // json-c parses "null" to a NULL object, which the module takes for a failure.
                    throw JSONParseError(kind: .syntax, message: "'null' is not a value that can be stored", offset: 0)
                }
                node = parsed
            } catch {
                host.log(.err, "$json(\(path.text)) := ...: error parsing json: \(error); the target is deleted")
                _ = store(nil, at: path, steps, in: docs, linking: false)
                return false
            }
        }
        return store(node, at: path, steps, in: docs, linking: false)
    }

    /// pv_add_json: puts `node` where `path` points (nil deletes). A bare name replaces (or clears) the document; a
    /// key is added or replaced in place in its parent object; an index replaces an existing element (nil removes it,
    /// the rest shift left); `[]` appends. The parent must exist: nothing is created on the way.
    func store(_ node: JSONNode?, at path: JSONPath, _ steps: [JSONPath.Resolved], in docs: WorkerDocuments,
               linking: Bool) -> Bool {
        let root: JSONNode
        switch docs[path.slot] {
        case .node(let r) where !steps.isEmpty:
            root = r
        case .unset where !steps.isEmpty:
            host.log(.err, "$json(\(path.text)): object is not initialized yet")
            return false
        case .cleared where !steps.isEmpty:
            notFound(path)
            return false
        default:
            docs[path.slot] = node.map(WorkerDocuments.Slot.node) ?? .cleared
            return true
        }
        guard let parent = Self.walk(root, steps.dropLast()) else {
            notFound(path)
            return false
        }
        if linking, let node, let target = parent.container {
            let (depth, reaches) = node.depth(reaching: target)
            if reaches {
                host.log(.err, "json_link: $json(\(path.text)) is inside the linked object: refused (a circular reference)")
                return false
            }
            if depth + steps.count > Self.maxDepth {
                host.log(.err, "json_link: $json(\(path.text)) would nest deeper than \(Self.maxDepth) levels: refused")
                return false
            }
        }
        switch steps[steps.count - 1] {
        case .key(let key):
            guard case .object(let o) = parent else {
                notFound(path)
                return false
            }
            o[key] = node
        case .index(let i):
            guard case .array(let a) = parent else {
                notFound(path)
                return false
            }
            let p = i < 0 ? i + a.items.count : i
            guard p >= 0 else {
                notFound(path)
                return false
            }
            guard p < a.items.count else {
                host.log(.err, "$json(\(path.text)): attempting to replace at invalid index in array: \(p)")
                return false
            }
            if let node { a.items[p] = node } else { a.items.remove(at: p) }
        case .append:
            guard case .array(let a) = parent else {
                notFound(path)
                return false
            }
            guard let node else {
                host.log(.err, "$json(\(path.text)): invalid parameter for deletion ([] cannot be deleted)")
                return false
            }
            a.items.append(node)
        }
        return true
    }

    func notFound(_ path: JSONPath) {
        host.log(.notice, "$json(\(path.text)): could not find object with that path")
    }

    // MARK: json_link

    /// json_link(dest, src): dest's slot gets src's node itself, not a copy (containers are shared). -1 when an
    /// argument is not a $json variable, src does not exist (or is a JSON null), dest cannot be written (the same
    /// rules as an assignment) or the link would make a cycle.
    func link(_ call: FunctionCall) -> Int32 {
        let ctx = call.context
        let docs = documents(ctx)
        guard let dest = probe(call, 0, docs), let src = probe(call, 1, docs) else {
            host.log(.err, "json_link: parameters must be json variables ($json, $json_compact, $json_pretty)")
            return -1
        }
        guard let srcSteps = resolve(ctx, src), let destSteps = resolve(ctx, dest) else { return -1 }
        let root: JSONNode
        switch docs[src.slot] {
        case .unset:
            host.log(.err, "json_link: variable named \(src.name) not found")
            return -1
        case .cleared:
            notFound(src)
            return -1
        case .node(let r):
            root = r
        }
        guard let node = Self.walk(root, srcSteps), !node.isNull else {
            notFound(src)
            return -1
        }
        return store(node, at: dest, destSteps, in: docs, linking: true) ? 1 : -1
    }

    /// Which $json spec the variable argument `index` is: read it in probing mode (see WorkerDocuments.probing).
    func probe(_ call: FunctionCall, _ index: Int, _ docs: WorkerDocuments) -> JSONPath? {
        guard let v = call.variable(index) else { return nil }
        docs.probing = true
        docs.probed = nil
        _ = host.varGet(call.context, v)
        docs.probing = false
        let found = docs.probed
        docs.probed = nil
        return found
    }
}
