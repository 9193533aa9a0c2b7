/// One resolved transformation `{class.op,params}` applied to a value.
///
/// The body returns nil when the transformation fails (OpenSIPS's eval function returning an error, e.g.
/// `{s.substr}` past the end): the variable then reads as null, and a format string prints nothing for it (not
/// `<null>`). A null input passes through unchanged without running the body, as every core class does.
public final class Transform: @unchecked Sendable {
    // Immutable after startup.
    let name: String
    let body: @Sendable (Value, ScriptContext) -> Value?

    init(name: String, _ body: @escaping @Sendable (Value, ScriptContext) -> Value?) {
        self.name = name
        self.body = body
    }

    @inline(__always)
    func apply(_ v: Value, _ ctx: ScriptContext) -> Value? {
        if case .null = v { return v }
        return body(v, ctx)
    }
}

/// A transformation parameter: a literal or a variable read at call time.
enum TParam: Sendable {
    case literal(String)
    case pv(ResolvedPV)

    func string(_ ctx: ScriptContext) -> String {
        switch self {
        case .literal(let s): return s
        case .pv(let p): return p.get(ctx).stringForm ?? ""
        }
    }

    /// The parameter as OpenSIPS's C `int` (`tp->v.n`, `v.ri`): a value past 32 bits wraps, as it does there, so
    /// arithmetic on it in the transformations can never overflow (a script-controlled value must not trap).
    func int(_ ctx: ScriptContext) -> Int? {
        switch self {
        case .literal: return literalInt
        case .pv(let p):
            let v = p.get(ctx)
            if let n = v.intForm { return Int(Int32(truncatingIfNeeded: n)) }
            return v.stringForm.flatMap { StringTransforms.strictInt($0) }
        }
    }

    /// A literal number, blanks around it allowed, wrapped to 32 bits (nil when it is not a number).
    var literalInt: Int? {
        guard case .literal(let s) = self else { return nil }
        if let n = Int(s) { return Int(Int32(truncatingIfNeeded: n)) }  // fast path; trimming is slow
        return StringTransforms.strictInt(s.trimmingCharacters(in: .whitespaces))
    }
}

/// A transformation class (`s`, `uri`, `param`, `csv`): builds a Transform from op + params.
public struct TransformClass: Sendable {
    public let name: String
    let make: @Sendable (_ op: String, _ params: [TParam]) throws(PVResolveError) -> Transform
}

import Foundation
