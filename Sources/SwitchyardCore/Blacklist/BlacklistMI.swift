import SwitchyardJSON
import SwitchyardMI

/// The core's blacklist MI commands, as OpenSIPS 3.4+ names them: list_blacklists [name], check_blacklists
/// [proto] ip [port] [pattern], check_blacklist name [proto] ip [port] [pattern], add_blacklist_rule name rule
/// [expire], del_blacklist_rule name rule.
extension MICore {
    /// OpenSIPS's protocol numbers in list_blacklists (0: any).
    static func protoNumber(_ p: String?) -> Int64 {
        switch p {
        case "udp": 1
        case "tcp": 2
        case "tls": 3
        case "sctp": 4
        case "ws": 5
        case "wss": 6
        default: 0
        }
    }

    func installBlacklistCommands(_ lists: Blacklists) {
        @Sendable func rule(_ p: MIRequestParams) throws -> BlacklistRule {
            let text = try p.string("rule")
            do throws(BlacklistParser.Failure) { return try BlacklistParser.rule(text) } catch {
                throw MIError(code: 400, message: "Bad rule: \(error.message)")
            }
        }
        @Sendable func probe(_ p: MIRequestParams) throws -> (IPBytes, Int, String, String) {
            guard let ip = IPBytes(try p.string("ip")) else { throw MIError(code: 400, message: "Bad IP") }
            let port = p.has("port") ? try p.int("port") : 0
            let proto = p.has("proto") ? try p.string("proto").lowercased() : "any"
            let pattern = p.has("pattern") ? try p.string("pattern") : ""
            return (ip, port, proto, pattern)
        }
        let probeRecipes = [["ip"], ["proto", "ip"], ["ip", "port"], ["proto", "ip", "port"], ["ip", "pattern"],
                            ["proto", "ip", "pattern"], ["ip", "port", "pattern"], ["proto", "ip", "port", "pattern"]]
        let commands: [(String, String, [[String]], MICommand.Handler)] = [
            ("list_blacklists", "lists the blacklists and their rules", [[], ["name"]], { p in
                let only = p.has("name") ? try p.string("name") : nil
                var out: [JSONValue] = []
                // One clock read: a rule expiring between two reads would make the subtraction below underflow.
                let now = Blacklists.now()
                for l in lists.all where only == nil || l.name == only {
                    // OpenSIPS's list flags: 2 rules expire, 4 used by default.
                    let flags: Int64 = (l.owner == 1 ? 2 : 0) | (l.byDefault ? 4 : 0)
                    let rules: [JSONValue] = l.rules.map { r in
                        var o: [(String, JSONValue)] = [("flags", .int(r.negated ? 1 : 0)), ("IP", .string(r.network.ipText)),
                                                        ("Mask", .string(r.network.maskText)), ("Proto", .int(MICore.protoNumber(r.proto))),
                                                        ("Port", .int(Int64(r.port)))]
                        if let m = r.pattern { o.append(("Match", .string(m))) }
                        if r.expiresAt != 0 {
                            let left = r.expiresAt > now ? (r.expiresAt - now) / 1_000_000_000 : 0
                            o.append(("Expire", .int(Int64(left))))
                        }
                        return .object(JSONObject(o))
                    }
                    out.append(.object(JSONObject([("name", .string(l.name)), ("owner", .int(Int64(l.owner))),
                                                   ("flags", .int(flags)), ("Rules", .array(rules))])))
                }
                if let only, out.isEmpty { return .error(code: 404, message: "Blacklist '\(only)' not found") }
                return .result(.object(JSONObject([("Lists", .array(out))])))
            }),
            ("check_blacklists", "the blacklists that block proto:ip:port+pattern", probeRecipes, { p in
                let (ip, port, proto, text) = try probe(p)
                let names = lists.all.filter { lists.check(list: $0.name, ip: ip, port: port, proto: proto, text: text) == true }
                return .result(.array(names.map { .string($0.name) }))
            }),
            ("check_blacklist", "whether one blacklist blocks proto:ip:port+pattern", probeRecipes.map { ["name"] + $0 }, { p in
                let name = try p.string("name")
                let (ip, port, proto, text) = try probe(p)
                guard let hit = lists.check(list: name, ip: ip, port: port, proto: proto, text: text) else {
                    return .error(code: 404, message: "Blacklist '\(name)' not found")
                }
                return .result(.string(hit ? "yes" : "no"))
            }),
            ("add_blacklist_rule", "adds a rule to a blacklist", [["name", "rule"], ["name", "rule", "expire"]], { p in
                let name = try p.string("name"), r = try rule(p)
                let expire = p.has("expire") ? try p.int("expire") : 0
                guard expire >= 0 else { return .error(code: 400, message: "Bad expire value") }
                return lists.add(list: name, rule: r, expire: expire) ? .ok : .error(code: 404, message: "Blacklist '\(name)' not found")
            }),
            ("del_blacklist_rule", "removes a rule from a blacklist", [["name", "rule"]], { p in
                let name = try p.string("name"), r = try rule(p)
                switch lists.delete(list: name, rule: r) {
                case nil: return .error(code: 404, message: "Blacklist '\(name)' not found")
                case false?: return .error(code: 404, message: "Rule not found")
                case true?: return .ok
                }
            }),
        ]
        for (name, help, recipes, handler) in commands {
            try? registry.register(module: "core", name: name, help: help, recipes: recipes, aliases: ["core:\(name)"], handler: handler)
        }
    }
}

extension BlacklistConfig {
    /// Puts the configured lists (and, when DNS blacklisting is on, the core's learned `dns` list) into the engine.
    /// A list that cannot be defined stops startup at its line: the name `dns` while the core learns into its own
    /// list of that name, or more lists than fit (one slot goes to `dns` only when disable_dns_blacklist = 0).
    static func install(_ config: ServerConfig, into engine: ScriptEngine, diagnostics: DiagnosticBag) {
        let learning = !config.disableDNSBlacklist
        let room = Blacklists.maxLists - (learning ? 1 : 0)
        for (n, l) in config.blacklists.enumerated() {
            if learning, l.name == "dns" {
                diagnostics.error(l.location, "blacklist 'dns' is the core's learned DNS list (disable_dns_blacklist = 0): use another name")
            } else if n >= room {
                diagnostics.error(l.location, "too many blacklists (at most \(room)\(learning ? " besides the DNS one" : ""))")
            } else if let why = engine.blacklists.define(name: l.name, rules: l.rules) {
                diagnostics.error(l.location, why)
            }
        }
        engine.dnsFailoverDisabled = config.disableDNSFailover
        engine.dnsBlacklistDisabled = config.disableDNSBlacklist
        if learning, let why = engine.blacklists.define(name: "dns", rules: [], byDefault: true, owner: 1, limit: Blacklists.dnsLimit) {
            diagnostics.error(nil, "DNS blacklist: \(why)")
        }
        engine.blacklists.seal()
    }
}
