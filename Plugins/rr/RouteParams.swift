// The parameters of our own Route, kept by loose_route(): $rr_params, check_route_param(re), is_direction(dir).
#if canImport(Glibc)
import Glibc
#endif
import SwitchyardPluginKit

extension RRModule {
    /// The parameters of the Route loose_route() found naming this proxy ("lr;ftag=a;nat=yes"); nil before
    /// loose_route, or when it had none.
    func routeParams(_ ctx: SYContext) -> String? {
        host.contextValue(ctx, RRState.routeParams)
    }

    /// OpenSIPS compiles a regex parameter POSIX extended, case-insensitive, newline-sensitive.
    static let regexFlags = REG_EXTENDED | REG_ICASE | REG_NEWLINE

    /// check_route_param: a literal expression must compile (startup error with its place, as OpenSIPS).
    static let checkRegex: FunctionFixupCheck = { args in
        guard let pattern = args[0].constantString else { return }
        var re = regex_t()
        let rc = regcomp(&re, pattern, regexFlags | REG_NOSUB)
        if rc == 0 { regfree(&re); return }
        throw FixupError(argument: 0, "bad regular expression '\(pattern)'")
    }

    /// check_route_param(re): 1 when the parameters of our Route, from their first ';' (";lr;ftag=a;nat=yes"),
    /// match the expression; -1 otherwise (also before loose_route, or without parameters).
    func checkRouteParam(_ call: FunctionCall) -> Int32 {
        guard let params = routeParams(call.context), !params.isEmpty else { return -1 }
        let pattern = call.string(0)
        var re = regex_t()
        guard regcomp(&re, pattern, RRModule.regexFlags | REG_NOSUB) == 0 else {
            host.log(.err, "check_route_param: bad regular expression '\(pattern)'")
            return -1
        }
        defer { regfree(&re) }
        return regexec(&re, ";" + params, 0, nil, 0) == 0 ? 1 : -1
    }

    enum Direction: Sendable { case downstream, upstream }

    /// "downstream"/"upstream", compared case-insensitively on their length, as OpenSIPS.
    static func direction(_ s: String) -> Direction? {
        let l = s.lowercased()
        if l.hasPrefix("downstream") { return .downstream }
        if l.hasPrefix("upstream") { return .upstream }
        return nil
    }

    /// is_direction needs append_fromtag (the ftag parameter) and a known direction: startup errors, as OpenSIPS.
    var directionFixup: FunctionFixupCheck {
        { [self] args in
            if !appendFromTag.load(ordering: .relaxed) {
                throw FixupError(argument: 0, "usage of \"is_direction\" function requires parameter \"append_fromtag\" enabled!!")
            }
            if let s = args[0].constantString, RRModule.direction(s) == nil {
                throw FixupError(argument: 0, "unknown direction '\(s)'")
            }
        }
    }

    /// is_direction(dir): the request goes upstream when the ftag of our Route is not its From tag; downstream
    /// otherwise (also without ftag, or without a From tag). 1 when `dir` is that direction, -1 if not.
    func isDirection(_ call: FunctionCall) -> Int32 {
        guard let wanted = RRModule.direction(call.string(0)) else {
            host.log(.err, "is_direction: unknown direction '\(call.string(0))'")
            return -1
        }
        var actual = Direction.downstream
        if let v, let params = routeParams(call.context), let ftag = RRModule.param("ftag", in: params), !ftag.isEmpty,
           let tag = host.varString(call.context, v.fromTag), !tag.isEmpty, tag != ftag {
            actual = .upstream
        }
        return actual == wanted ? 1 : -1
    }

    /// The value of the parameter `name` in "a=1;b;c=\"x\"" ("" for one without value); nil when absent.
    static func param(_ name: String, in params: String) -> String? {
        for item in params.split(separator: ";") {
            let kv = item.split(separator: "=", maxSplits: 1)
            guard let k = kv.first, k.trimmingSpaces() == name else { continue }
            guard kv.count == 2 else { return "" }
            var val = Substring(kv[1].trimmingSpaces())
            if val.count >= 2, let f = val.first, (f == "\"" || f == "'"), val.last == f { val = val.dropFirst().dropLast() }
            return String(val)
        }
        return nil
    }
}
