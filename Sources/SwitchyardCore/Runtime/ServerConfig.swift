/// Global parameters the core acts on, read from the script's `name = value` lines.
public struct ServerConfig: Sendable {
    public var logLevel = LogLevels.notice
    public var xlogLevel = LogLevels.notice
    public var workers = ProcessInfo.processInfo.activeProcessorCount
    public var mpath: [String] = []
    public var maxWhileLoops = 10000
    public var eventQueueSize = 65536
    /// socket=/listen= lines as written, for the SIP transport modules.
    public var sockets: [String] = []
    /// The same lines with where they were written, for error messages.
    public var socketLines: [(text: String, location: SourceLocation?)] = []
    /// `server_header` / `server_signature`: the Server: line of locally made replies (nil = none).
    public var serverHeader: String? = nil
    public var serverSignature = true
    public var aliases: [String] = []
    /// The same lines with where they were written (a bad one stops startup there).
    public var aliasLines: [(text: String, location: SourceLocation?)] = []
    /// `dst_blacklist` lists in the order written (a bad one stops startup at its line).
    public var blacklists: [(name: String, rules: [BlacklistRule], location: SourceLocation)] = []
    /// `disable_dns_failover` (default 0) and `disable_dns_blacklist` (default 1, as OpenSIPS).
    public var disableDNSFailover = false
    public var disableDNSBlacklist = true
    /// The resolver's globals (OpenSIPS names and defaults).
    public var dns = DNSSettings()
    /// Every global as written (the others are accepted and kept).
    public var all: [String: GlobalValue] = [:]

    public init() {}

    /// Applies the globals; wrong value types are reported with their location.
    mutating func apply(_ globals: [GlobalSetting], diagnostics: DiagnosticBag) {
        for g in globals {
            all[g.name] = g.value
            func int() -> Int? {
                if case .int(let n) = g.value { return n }
                diagnostics.error(g.location, "global parameter '\(g.name)' needs an integer value")
                return nil
            }
            switch g.name {
            case "log_level":
                if let n = int() { logLevel = n }
            case "xlog_level":
                if let n = int() { xlogLevel = n }
            case "udp_workers", "children":
                if let n = int() {
                    if n < 1 { diagnostics.error(g.location, "\(g.name) must be at least 1") } else { workers = n }
                }
            case "max_while_loops":
                if let n = int() { maxWhileLoops = n }
            case "event_queue_size":
                if let n = int() {
                    if n < 1 { diagnostics.error(g.location, "event_queue_size must be at least 1") } else { eventQueueSize = n }
                }
            case "server_header":
                if case .string(let s) = g.value { serverHeader = s } else { diagnostics.error(g.location, "server_header needs a quoted string") }
            case "server_signature":
                if let n = int() { serverSignature = n != 0 }
            case "mpath":
                if case .string(let s) = g.value {
                    // Repeated mpath lines accumulate (3.5+); "a" : "b" lists too (4.0+).
                    mpath += s.split(separator: ":").map(String.init).filter { !$0.isEmpty }
                } else {
                    diagnostics.error(g.location, "mpath needs a quoted directory")
                }
            case "socket", "listen":
                if case .raw(let s) = g.value {
                    sockets.append(s)
                    socketLines.append((s, g.location))
                }
            case "dst_blacklist":
                if case .raw(let s) = g.value, let list = BlacklistConfig.parse(s, at: g.location, diagnostics: diagnostics) {
                    // The count (a slot for `dns` or not) and the name `dns` are checked at install, once
                    // disable_dns_blacklist is known.
                    if blacklists.contains(where: { $0.name == list.name }) {
                        diagnostics.error(g.location, "blacklist '\(list.name)' is defined twice")
                    } else {
                        blacklists.append((list.name, list.rules, g.location))
                    }
                }
            case "disable_dns_failover":
                if let n = int() { disableDNSFailover = n != 0 }
            case "disable_dns_blacklist":
                if let n = int() { disableDNSBlacklist = n != 0 }
            case "dns_try_ipv6":
                if let n = int() { dns.tryIPv6 = n != 0 }
            case "dns_try_naptr":
                if let n = int() { dns.tryNAPTR = n != 0 }
            case "dns_retr_time":
                if let n = int() { dns.retrTime = n }
            case "dns_retr_no":
                if let n = int() { dns.retrNo = n }
            case "dns_servers_no":
                if let n = int() { dns.serversNo = n }
            case "dns_use_search_list":
                if let n = int() { dns.searchList = n != 0 ? 1 : 0 }
            case "alias":
                if case .raw(let s) = g.value {
                    aliases.append(s)
                    aliasLines.append((s, g.location))
                }
            default:
                break
            }
        }
    }
}

import Foundation
