import SwitchyardABI

/// A resolved call: to a script function (core or plugin), with arguments fixed up at startup.
// @unchecked Sendable: every stored property is set while the script is resolved (`traceLabel` too), on the one
// resolving thread, before the route set is published to the workers; after that the node is only read.
class CallNode: @unchecked Sendable {
    let location: SourceLocation
    /// The class and action script_trace prints for this call ("module t_relay", "core xlog"); empty for route
    /// calls, which trace once the route is known. Set by the resolver.
    var traceLabel = ""
    init(_ location: SourceLocation) { self.location = location }
    func invoke(_ ctx: ScriptContext) -> Int { 1 }
}

/// One argument after fixup.
enum ResolvedArg: @unchecked Sendable {
    case omitted
    case int(Int)
    case string(String)
    case format(FormatString)
    case pv(ResolvedPV, wantInt: Bool)
    case output(ResolvedPV)
}

final class FunctionCallNode: CallNode, @unchecked Sendable {
    let def: FunctionDef
    let args: [ResolvedArg]
    /// sy_var handles for output parameters, made once at startup.
    let varHandles: [UnsafeMutableRawPointer?]

    /// The argument values when none depends on the message (literals, output variables): made once here instead of
    /// an array per call (`mf_process_maxfwd_header(10)`, `forward()` run for every request).
    let constantValues: [ArgValue]?

    init(def: FunctionDef, args: [ResolvedArg], varHandles: [UnsafeMutableRawPointer?], _ loc: SourceLocation) {
        self.def = def
        self.args = args
        self.varHandles = varHandles
        var constant: [ArgValue]? = []
        for a in args {
            switch a {
            case .omitted: constant?.append(.omitted)
            case .int(let i): constant?.append(.value(.int(i)))
            case .string(let s): constant?.append(.value(.str(s)))
            case .output(let pv): constant?.append(.variable(pv))
            case .format, .pv: constant = nil
            }
        }
        constantValues = constant
        super.init(loc)
    }

    /// Evaluates the arguments; nil when a variable has no value of the required type (the handler is
    /// then skipped and the call returns -1), except a NULL for a parameter declared SY_P_NULLABLE.
    func evaluate(_ ctx: ScriptContext) -> [ArgValue]? {
        if let c = constantValues { return c }
        var out: [ArgValue] = []
        out.reserveCapacity(args.count)
        for (i, a) in args.enumerated() {
            switch a {
            case .omitted: out.append(.omitted)
            case .int(let i): out.append(.value(.int(i)))
            case .string(let s): out.append(.value(.str(s)))
            case .format(let f): out.append(.value(.str(f.render(ctx))))
            case .pv(let pv, let wantInt):
                let v = pv.get(ctx)
                if case .null = v, i < def.params.count, def.params[i] & ParamFlag.nullable != 0 {
                    out.append(.value(.null))
                    continue
                }
                if wantInt {
                    guard let i = v.intForm else {
                        ctx.engine.log.error("\(location): \(def.name)(): \(pv.text) has no integer value (\(v.printed))")
                        return nil
                    }
                    out.append(.value(.int(i)))
                } else {
                    guard let s = v.stringForm else {
                        ctx.engine.log.error("\(location): \(def.name)(): \(pv.text) is NULL")
                        return nil
                    }
                    out.append(.value(.str(s)))
                }
            case .output(let pv): out.append(.variable(pv))
            }
        }
        return out
    }

    override func invoke(_ ctx: ScriptContext) -> Int {
        guard let values = evaluate(ctx) else { return -1 }
        switch def.impl {
        case .core(let f):
            return f(ctx, values)
        case .plugin(let handler, let user):
            return PluginCall.invoke(handler: handler, user: user, ctx: ctx, values: values, varHandles: varHandles)
        }
    }
}

/// Crossing the C boundary: builds sy_arg values whose strings live for the call only.
enum PluginCall {
    static func invoke(handler: sy_func_handler, user: UnsafeMutableRawPointer?, ctx: ScriptContext,
                       values: [ArgValue], varHandles: [UnsafeMutableRawPointer?]) -> Int {
        // Every string's bytes (NUL-terminated) go into one stack buffer, the sy_arg array into another: no heap
        // allocation per call (this runs for every module function call of every route).
        var total = 0
        for v in values { if case .value(.str(let s)) = v { total += s.utf8.count + 1 } }
        let ctxPtr = OpaquePointer(Unmanaged.passUnretained(ctx).toOpaque())
        return withUnsafeTemporaryAllocation(byteCount: max(1, total), alignment: 1) { buf -> Int in
            withUnsafeTemporaryAllocation(of: sy_arg.self, capacity: max(1, values.count)) { argv -> Int in
                var off = 0
                for (i, v) in values.enumerated() {
                    var a = sy_arg()
                    switch v {
                    case .omitted:
                        a.present = 0
                    case .value(.int(let n)):
                        a.present = 1
                        a.value.type = Int32(SY_VAL_INT.rawValue)
                        a.value.i = Int64(n)
                    case .value(.str(let str)):
                        a.present = 1
                        a.value.type = Int32(SY_VAL_STR.rawValue)
                        var text = str
                        let start = buf.baseAddress! + off
                        let len = text.withUTF8 { u -> Int in
                            if let b = u.baseAddress, u.count > 0 { start.copyMemory(from: b, byteCount: u.count) }
                            return u.count
                        }
                        start.storeBytes(of: 0, toByteOffset: len, as: UInt8.self)
                        a.value.s = sy_str(s: start.assumingMemoryBound(to: CChar.self), len: len)
                        off += len + 1
                    case .value(.null):
                        a.present = 1
                    case .variable:
                        a.present = 1
                        a.var = varHandles[i].map { OpaquePointer($0) }
                    }
                    argv[i] = a
                }
                let r = handler(ctxPtr, argv.baseAddress, UInt32(values.count), user)
                return Int(r)
            }
        }
    }
}
