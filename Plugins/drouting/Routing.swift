// Destination lists (gwlist expansion, weighted ordering, whitelist), and the R-URI rewrite of OpenSIPS build_ruri().
import Synchronization

/// The parts of a SIP/SIPS/TEL URI drouting needs.
struct URIParts: Sendable, Equatable {
    var user = ""
    var password: String? = nil
    var hostport = ""
    var params = ""  // without the leading ';'
    var headers = "" // without the leading '?'

    init?(_ text: String) {
        guard let colon = text.firstIndex(of: ":") else { return nil }
        let scheme = text[..<colon].lowercased()
        guard scheme == "sip" || scheme == "sips" || scheme == "tel" else { return nil }
        var rest = text[text.index(after: colon)...]
        if let q = rest.firstIndex(of: "?") {
            headers = String(rest[rest.index(after: q)...])
            rest = rest[..<q]
        }
        if scheme == "tel" {
            if let semi = rest.firstIndex(of: ";") {
                params = String(rest[rest.index(after: semi)...])
                rest = rest[..<semi]
            }
            user = String(rest)
            return
        }
        var hostPart = rest
        if let at = rest.lastIndex(of: "@") {
            let userinfo = rest[..<at]
            hostPart = rest[rest.index(after: at)...]
            if let c = userinfo.firstIndex(of: ":") {
                user = String(userinfo[..<c])
                password = String(userinfo[userinfo.index(after: c)...])
            } else {
                user = String(userinfo)
            }
        }
        if let semi = hostPart.firstIndex(of: ";") {
            params = String(hostPart[hostPart.index(after: semi)...])
            hostPart = hostPart[..<semi]
        }
        hostport = String(hostPart)
    }

    /// host and port of hostport (port 0 when absent).
    var hostAndPort: (host: String, port: Int) {
        var hp = Substring(hostport)
        if hp.hasPrefix("["), let close = hp.firstIndex(of: "]") {
            let host = String(hp[hp.index(after: hp.startIndex)..<close])
            let rest = hp[hp.index(after: close)...]
            return (host, rest.hasPrefix(":") ? Int(rest.dropFirst()) ?? 0 : 0)
        }
        if let c = hp.lastIndex(of: ":") {
            let port = Int(hp[hp.index(after: c)...]) ?? 0
            hp = hp[..<c]
            return (String(hp), port)
        }
        return (String(hp), 0)
    }

    /// OpenSIPS build_ruri(): "sip:" + pri_prefix + user[strip:] + [":" password] + ["@"] + gw hostport(+params)
    /// + [";" original params] + ["?" headers].
    func rewritten(for gw: Gateway) -> String {
        var u = Substring(user)
        u = u.dropFirst(min(gw.strip, u.count))
        let userPart = gw.priPrefix + u
        var out = "sip:" + userPart
        if let pw = password { out += ":" + pw }
        if !userPart.isEmpty || password != nil { out += "@" }
        out += gw.ipStr
        if !params.isEmpty { out += ";" + params }
        if !headers.isEmpty { out += "?" + headers }
        return out
    }
}

/// One destination: a gateway, and the carrier it came through (-1 for a gateway straight from the list).
struct Candidate: Sendable, Equatable {
    var gw: Int32
    var carrier: Int32
}

/// A parsed gw_whitelist.
struct Whitelist: Sendable {
    var gws: Set<String> = []
    var carriers: Set<String> = []
}

/// Lock-free SplitMix64 stream: seedable (deterministic with one thread), safe from any number of threads.
final class RandomSource: Sendable {
    private let state: Atomic<UInt64>
    init(seed: UInt64) {
        var s = seed
        if s == 0 { s = UInt64.random(in: 1...UInt64.max) }
        state = Atomic(s)
    }
    func next() -> UInt64 {
        var z = state.wrappingAdd(0x9E37_79B9_7F4A_7C15, ordering: .relaxed).newValue
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, n).
    func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

enum Routing {
    /// OpenSIPS weight-based sort: repeated weighted draw without replacement; zero weights keep their place after
    /// every positive weight.
    static func weightedOrder(_ items: [ListItem], rng: RandomSource) -> [ListItem] {
        var a = items
        var start = 0
        while start < a.count {
            var sum = 0
            for i in start..<a.count { sum += a[i].weight }
            if sum == 0 { break }
            let r = rng.below(sum)
            var acc = 0
            for i in start..<a.count {
                acc += a[i].weight
                if acc > r {
                    a.swapAt(start, i)
                    break
                }
            }
            start += 1
        }
        return a
    }

    /// Expands a rule's list into candidates: disabled or non-whitelisted entries skipped, carriers expanded (their own
    /// order, "first only" honoured; their gateways are not whitelist-checked).
    static func candidates(_ items: [ListItem], weighted: Bool, whitelist: Whitelist?, snap: Snapshot,
                           rng: RandomSource) -> [Candidate] {
        let list = weighted ? weightedOrder(items, rng: rng) : items
        var out: [Candidate] = []
        out.reserveCapacity(list.count)
        for item in list {
            if item.isCarrier {
                let cr = snap.carriers[Int(item.index)]
                if cr.state.isDisabled { continue }
                if let wl = whitelist, !wl.carriers.contains(cr.id) { continue }
                out.append(contentsOf: carrierGateways(Int(item.index), snap: snap, rng: rng))
            } else {
                let gw = snap.gateways[Int(item.index)]
                if gw.state.isDisabled { continue }
                if let wl = whitelist, !wl.gws.contains(gw.id) { continue }
                out.append(Candidate(gw: item.index, carrier: -1))
            }
        }
        return out
    }

    static func carrierGateways(_ ci: Int, snap: Snapshot, rng: RandomSource) -> [Candidate] {
        let cr = snap.carriers[ci]
        var out: [Candidate] = []
        for g in (cr.weightSort ? weightedOrder(cr.gws, rng: rng) : cr.gws) {
            if snap.gateways[Int(g.index)].state.isDisabled { continue }
            out.append(Candidate(gw: g.index, carrier: Int32(ci)))
            if cr.firstOnly { break }
        }
        return out
    }

    /// The addresses to check for a host: itself if it is an IP literal (normalised), else its A/AAAA records.
    static func addresses(_ host: String) -> [String] {
        if let ip = Loader.normalizeIP(host) { return [ip] }
        return Loader.resolve(host)
    }

    /// The first gateway (load order) having an address with one of `ips` whose port matches (is_from_gw: the
    /// address's port 0, the checked port 0, or equal ports; `ignorePort` = flag `n`) and, when `proto` is given
    /// (flag `r`), whose transport is `proto`; of `type` (nil or -1 = any).
    static func matchGateway(ips: [String], port: Int, proto: String?, type: Int?, ignorePort: Bool,
                             snap: Snapshot) -> Int? {
        var best: Int32 = -1
        for ip in ips {
            guard let list = snap.byIP[ip] else { continue }
            for gi in list {
                if best >= 0 && gi >= best { break }
                let gw = snap.gateways[Int(gi)]
                if let t = type, t != -1, gw.type != t { continue }
                guard gw.addrs.contains(where: { a in
                    a.ip == ip && (ignorePort || port == 0 || a.port == 0 || a.port == port) && (proto == nil || a.proto == proto)
                }) else { continue }
                best = gi
                break
            }
        }
        return best >= 0 ? Int(best) : nil
    }
}
