import Foundation

/// The resolver's globals, with OpenSIPS 3.6's names and defaults, and the test hook that points it at one server.
public struct DNSSettings: Sendable, Equatable {
    /// `dns_try_ipv6` (default 0): AAAA is asked only when this is on and the name has no A record.
    public var tryIPv6 = false
    /// `dns_try_naptr` (default 1): a name with neither port nor transport is looked up NAPTR first.
    public var tryNAPTR = true
    /// `dns_retr_time` (seconds before a query is sent again), `dns_retr_no` (how many times), `dns_servers_no` (how
    /// many resolv.conf servers are used): -1 keeps the system's value.
    public var retrTime = -1
    public var retrNo = -1
    public var serversNo = -1
    /// `dns_use_search_list`: 0 drops resolv.conf's search list; -1 (unset) keeps the system's behaviour.
    public var searchList = -1
    /// `SWITCHYARD_DNS_SERVER=ip:port` (IPv4): every lookup, A and AAAA included, is asked of that server alone
    /// instead of resolv.conf's and nsswitch's (a test's own DNS server).
    public var serverIP: String?
    public var serverPort = 53
    /// `SWITCHYARD_HOSTS_FILE`: a hosts(5)-style file whose names resolve from it (NameResolver.hostsTable).
    public var hostsFile: String?

    /// The test hooks from `environment` (the process's, or the one a test gives its in-process Server).
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        hostsFile = environment["SWITCHYARD_HOSTS_FILE"]
        if let s = environment["SWITCHYARD_DNS_SERVER"], let colon = s.lastIndex(of: ":"),
           let port = Int(s[s.index(after: colon)...]), (1...65535).contains(port) {
            serverIP = String(s[..<colon])
            serverPort = port
        }
    }
}
