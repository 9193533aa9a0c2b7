import SwitchyardABI

/// The core cache functions (OpenSIPS's cache_* over any cachedb backend, plus Switchyard's
/// atomic cache_insert). The cache id is bound at startup when it is a literal.
final class CacheCallNode: CallNode, @unchecked Sendable {
    enum Op: String { case store, insert, fetch, remove, add, sub, counterFetch, rawQuery }
    enum Target { case fixed(CacheBackend), dynamic(FormatString) }

    let op: Op
    let name: String
    let target: Target
    let key: FormatString
    let value: ResolvedArg?       // store/insert: the value; add/sub: the delta
    let expire: ResolvedArg?
    let output: ResolvedPV?

    init(op: Op, name: String, target: Target, key: FormatString, value: ResolvedArg?, expire: ResolvedArg?, output: ResolvedPV?, _ loc: SourceLocation) {
        self.op = op
        self.name = name
        self.target = target
        self.key = key
        self.value = value
        self.expire = expire
        self.output = output
        super.init(loc)
    }

    func evalString(_ a: ResolvedArg?, _ ctx: ScriptContext) -> String? {
        switch a {
        case .string(let s)?: return s
        case .format(let f)?: return f.render(ctx)
        case .int(let n)?: return String(n)
        case .pv(let pv, _)?: return pv.get(ctx).stringForm
        default: return nil
        }
    }

    func evalInt(_ a: ResolvedArg?, _ ctx: ScriptContext) -> Int? {
        switch a {
        case .int(let n)?: return n
        case .pv(let pv, _)?:
            let v = pv.get(ctx)
            return v.intForm ?? v.stringForm.flatMap { Int($0) }
        case .string(let s)?: return Int(s)
        default: return nil
        }
    }

    override func invoke(_ ctx: ScriptContext) -> Int {
        let backend: CacheBackend
        switch target {
        case .fixed(let b): backend = b
        case .dynamic(let f):
            switch ctx.engine.cacheDirectory?.backend(f.render(ctx)) {
            case .success(let b)?: backend = b
            case .failure(let e)?:
                ctx.engine.log.error("\(location): \(name)(): \(e.message)")
                return -1
            case nil:
                return -1
            }
        }
        let k = key.render(ctx)
        guard !k.isEmpty else {
            ctx.engine.log.error("\(location): \(name)(): empty \(op == .rawQuery ? "query" : "key")")
            return -1
        }
        switch op {
        case .store, .insert:
            guard let v = evalString(value, ctx) else {
                ctx.engine.log.error("\(location): \(name)(): the value is NULL")
                return -1
            }
            let e = evalInt(expire, ctx) ?? 0
            let rc = op == .store ? backend.store(k, v, expire: e) : backend.insert(k, v, expire: e)
            return rc == 0 ? 1 : (rc == Int32(SY_CACHEDB_EXISTS.rawValue) ? -2 : -1)
        case .fetch:
            let (rc, v) = backend.fetch(k)
            if rc == 0, let v, let output { return output.set(ctx, .assign, .str(v)) ? 1 : -1 }
            return rc == Int32(SY_CACHEDB_NOT_FOUND.rawValue) ? -2 : -1
        case .remove:
            return backend.remove(k) == 0 ? 1 : -1
        case .add, .sub:
            guard let d = evalInt(value, ctx) else {
                ctx.engine.log.error("\(location): \(name)(): the increment is not an integer")
                return -1
            }
            let (rc, n) = backend.add(k, op == .add ? d : -d, expire: evalInt(expire, ctx) ?? 0)
            guard rc == 0 else { return -1 }
            if let output { _ = output.set(ctx, .assign, .int(n)) }
            return 1
        case .rawQuery:
            let (rc, values) = backend.rawQuery(k)
            if rc == Int32(SY_CACHEDB_NOT_FOUND.rawValue) { return -2 }
            guard rc == 0 else { return -1 }
            if let output {
                // Added last to first, as OpenSIPS does: each AVP value is pushed on top, so $avp(x) (index 0) is
                // the reply's first element and $(avp(x)[n]) its n-th. A nil element is an AVP with a NULL value (a
                // push, not the script's `= NULL` pop), so the elements after it keep their indexes.
                for v in values.reversed() {
                    switch v {
                    case .str(let s): output.push(ctx, .str(s))
                    case .int(let n): output.push(ctx, .int(Int(n))) // an integer AVP, as OpenSIPS
                    case .null: output.push(ctx, .null)
                    }
                }
            }
            return 1
        case .counterFetch:
            let (rc, n) = backend.counterFetch(k)
            if rc == 0, let output { return output.set(ctx, .assign, .int(n)) ? 1 : -1 }
            if rc == Int32(SY_CACHEDB_NOT_FOUND.rawValue) { return -2 }
            if rc == Int32(SY_CACHEDB_NOT_INT.rawValue) { return -3 }
            return -1
        }
    }
}

extension Resolver {
    static let cacheFunctions: Set<String> = [
        "cache_store", "cache_insert", "cache_fetch", "cache_remove", "cache_add", "cache_sub",
        "cache_counter_fetch", "cache_raw_query",
    ]

    /// cache_store(id, key, value[, expire]), cache_insert(...same), cache_fetch(id, key, $out),
    /// cache_remove(id, key), cache_add/cache_sub(id, key, incr, expire[, $newval]),
    /// cache_counter_fetch(id, key, $out), cache_raw_query(id, query[, $avp(out)]) (backends with raw queries only).
    func cacheCall(_ c: CallExpr) -> CallNode? {
        let str = ParamFlag.str, int = ParamFlag.int, opt = ParamFlag.opt, out = ParamFlag.variable
        let spec: (CacheCallNode.Op, [UInt32])
        switch c.name {
        case "cache_store": spec = (.store, [str, str, str, int | opt])
        case "cache_insert": spec = (.insert, [str, str, str, int | opt])
        case "cache_fetch": spec = (.fetch, [str, str, out])
        case "cache_remove": spec = (.remove, [str, str])
        case "cache_add": spec = (.add, [str, str, int, int, out | opt])
        case "cache_sub": spec = (.sub, [str, str, int, int, out | opt])
        case "cache_counter_fetch": spec = (.counterFetch, [str, str, out])
        case "cache_raw_query": spec = (.rawQuery, [str, str, out | opt])
        default:
            error(c.location, "\(c.name)(): unknown cache function")
            return nil
        }
        let (op, params) = spec
        let minArgs = params.filter { $0 & opt == 0 }.count
        guard c.args.count >= minArgs, c.args.count <= params.count else {
            error(c.location, "\(c.name)() takes \(minArgs == params.count ? "\(minArgs)" : "\(minArgs) to \(params.count)") arguments")
            return nil
        }
        var fixed: [ResolvedArg] = []
        for (i, p) in params.enumerated() {
            let a: CallArg = i < c.args.count ? c.args[i] : .omitted(c.location)
            guard let r = fixArg(a, spec: p, fn: c.name, position: i + 1) else { return nil }
            fixed.append(r)
        }
        // The cache id: a literal is bound now, so a missing backend stops startup.
        let target: CacheCallNode.Target
        switch fixed[0] {
        case .string(let id):
            guard let dir = engine.cacheDirectory else {
                error(c.args[0].location, "\(c.name)(): no cache backend is available")
                return nil
            }
            switch dir.backend(id) {
            case .success(let b): target = .fixed(b)
            case .failure(let e):
                error(c.args[0].location, "\(c.name)(): \(e.message)")
                return nil
            }
        case .format(let f): target = .dynamic(f)
        case .pv(let pv, _):
            target = .dynamic(FormatString(parts: [.pv(pv)]))
        default:
            error(c.args[0].location, "\(c.name)(): bad cache id")
            return nil
        }
        let key: FormatString
        switch fixed[1] {
        case .string(let s): key = FormatString(parts: [.text(s)])
        case .format(let f): key = f
        case .pv(let pv, _): key = FormatString(parts: [.pv(pv)])
        default:
            error(c.args[1].location, "\(c.name)(): bad key")
            return nil
        }
        func outputPV(_ i: Int) -> ResolvedPV? {
            if i < fixed.count, case .output(let pv) = fixed[i] { return pv }
            return nil
        }
        func arg(_ i: Int) -> ResolvedArg? {
            guard i < fixed.count else { return nil }
            if case .omitted = fixed[i] { return nil }
            return fixed[i]
        }
        switch op {
        case .store, .insert:
            return CacheCallNode(op: op, name: c.name, target: target, key: key, value: arg(2), expire: arg(3), output: nil, c.location)
        case .fetch, .counterFetch, .rawQuery:
            if op == .rawQuery, case .fixed(let b) = target, !b.hasRawQuery {
                error(c.args[0].location, "\(c.name)(): the cache backend of '\(b.id)' has no raw queries")
                return nil
            }
            return CacheCallNode(op: op, name: c.name, target: target, key: key, value: nil, expire: nil, output: outputPV(2), c.location)
        case .remove:
            return CacheCallNode(op: op, name: c.name, target: target, key: key, value: nil, expire: nil, output: nil, c.location)
        case .add, .sub:
            return CacheCallNode(op: op, name: c.name, target: target, key: key, value: arg(2), expire: arg(3), output: outputPV(4), c.location)
        }
    }
}
