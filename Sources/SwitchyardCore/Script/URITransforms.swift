import Foundation

/// `uri.`, `param.` and `csv.` classes (OpenSIPS's tr_eval_uri / tr_eval_paramlist / tr_eval_csv): an empty input or
/// one that does not parse fails; a missing part is null.
enum URITransforms {
    static let uri = TransformClass(name: "uri") { op, params throws(PVResolveError) in
        @Sendable func parsed(_ v: Value) -> SIPURI? {
            guard let s = v.stringForm, !s.isEmpty, var u = SIPURI(s) else { return nil }
            // A tel:/tels: URI's number is its user part and it has no host (OpenSIPS's parse_uri moves it).
            let scheme = u.scheme.lowercased()
            if (scheme == "tel" || scheme == "tels") && u.user.isEmpty {
                u.user = u.host
                u.host = ""
            }
            return u
        }
        func part(_ f: @escaping @Sendable (SIPURI) -> String?) -> Transform {
            Transform(name: op) { v, _ in
                guard let u = parsed(v) else { return nil }
                guard let s = f(u), !s.isEmpty else { return .null }
                return .str(s)
            }
        }
        switch op.lowercased() {
        case "user": return part { $0.user }
        case "host", "domain": return part { $0.host }
        case "passwd": return part { $0.password }
        case "port":
            return Transform(name: op) { v, _ in
                guard let u = parsed(v) else { return nil }
                if u.port.isEmpty { return .null }
                return Int(u.port).map { .int($0) } ?? .str(u.port)
            }
        case "params": return part { $0.params }
        case "headers": return part { $0.headers }
        case "schema": return Transform(name: op) { v, _ in parsed(v).map { .str($0.scheme) } }
        case "transport", "ttl", "maddr", "method", "lr", "r2":
            let name = op.lowercased()
            return part { $0.param(name) }
        case "uparam":
            return part { $0.param("user") }
        case "param":
            guard let p = params.first else { throw PVResolveError("uri.param needs a parameter name") }
            return Transform(name: op) { v, ctx in
                guard let u = parsed(v) else { return nil }
                let name = p.string(ctx)
                guard !name.isEmpty else { return nil }
                // A parameter without a value reads as the empty string.
                return paramList(u.params).first { $0.0.caseInsensitiveCompare(name) == .orderedSame }.map { .str($0.1 ?? "") } ?? .null
            }
        default:
            throw PVResolveError("unknown transformation uri.\(op)")
        }
    }

    /// `a=1;b;c=2` as (name, value) pairs in order; blanks around names are dropped.
    static func paramList(_ s: String) -> [(String, String?)] {
        s.split(separator: ";").compactMap { p in
            let kv = p.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let k = String(kv[0]).trimmingCharacters(in: .whitespaces)
            if k.isEmpty { return nil }
            return (k, kv.count > 1 ? String(kv[1]).trimmingCharacters(in: .whitespaces) : nil)
        }
    }

    static let param = TransformClass(name: "param") { op, params throws(PVResolveError) in
        @Sendable func list(_ v: Value) -> [(String, String?)]? {
            guard let s = v.stringForm, !s.isEmpty else { return nil }
            let l = paramList(s)
            return l.isEmpty ? nil : l
        }
        @Sendable func at(_ l: [(String, String?)], _ n: Int) -> (String, String?)? {
            let i = n < 0 ? l.count + n : n
            return i >= 0 && i < l.count ? l[i] : nil
        }
        let o = op.lowercased()
        switch o {
        case "value", "exist", "valueat", "name":
            guard let p = params.first else { throw PVResolveError("param.\(op) needs a parameter") }
            return Transform(name: op) { v, ctx in
                guard let l = list(v) else { return nil }
                switch o {
                case "value":
                    let n = p.string(ctx)
                    return l.first { $0.0.caseInsensitiveCompare(n) == .orderedSame }.map { .str($0.1 ?? "") } ?? .null
                case "exist":
                    let n = p.string(ctx)
                    return .int(l.contains { $0.0.caseInsensitiveCompare(n) == .orderedSame } ? 1 : 0)
                default:
                    guard let n = p.int(ctx) else { return nil }
                    guard let e = at(l, n) else { return .null }
                    return .str(o == "name" ? e.0 : (e.1 ?? ""))
                }
            }
        case "count":
            return Transform(name: op) { v, _ in list(v).map { .int($0.count) } }
        default:
            throw PVResolveError("unknown transformation param.\(op)")
        }
    }

    /// RFC 4180 fields of one record: quoted fields may hold commas, `""` is a quote.
    static func csvFields(_ s: String) -> [String] {
        var out: [String] = []
        var cur = ""
        var quoted = false
        var chars = Array(s)[...]
        var fieldStart = true
        while let c = chars.popFirst() {
            if quoted {
                if c == "\"" {
                    if chars.first == "\"" { cur.append("\""); chars.removeFirst() } else { quoted = false }
                } else { cur.append(c) }
            } else if c == "\"" && fieldStart {
                quoted = true; fieldStart = false
            } else if c == "," {
                out.append(cur); cur = ""; fieldStart = true
            } else {
                cur.append(c); fieldStart = false
            }
        }
        out.append(cur)
        return out
    }

    static let csv = TransformClass(name: "csv") { op, params throws(PVResolveError) in
        @Sendable func fields(_ v: Value) -> [String]? {
            guard let s = v.stringForm, !s.isEmpty else { return nil }
            return csvFields(s)
        }
        switch op.lowercased() {
        case "count":
            return Transform(name: op) { v, _ in fields(v).map { .int($0.count) } }
        case "value":
            guard let p = params.first else { throw PVResolveError("csv.value needs an index") }
            return Transform(name: op) { v, ctx in
                guard let f = fields(v), var i = p.int(ctx) else { return nil }
                if i < 0 { i += f.count }
                return i >= 0 && i < f.count ? .str(f[i]) : nil
            }
        default:
            throw PVResolveError("unknown transformation csv.\(op)")
        }
    }
}
