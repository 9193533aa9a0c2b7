/// Global parameter names OpenSIPS 3.6 knows, plus the 2.x `children` alias we accept.
/// Anything else at top level is "unknown global parameter".
enum GlobalNames {
    static let known: Set<String> = {
        let words = """
        debug_mode udp_workers children chroot workdir wdir disable_core_dump open_files_limit
        enable_asserts abort_on_assert log_level log_prefix log_stdout log_stderror
        stderror_enabled syslog_enabled log_event_enabled stderror_level_filter
        syslog_level_filter log_event_level_filter stderror_log_format syslog_log_format
        log_json_buf_size log_msg_buf_size log_facility syslog_facility
        log_name syslog_name listen socket mem-group alias auto_aliases
        tag dns rev_dns dns_try_ipv6 dns_try_naptr dns_retr_time dns_retr_no dns_servers_no
        dns_use_search_list maxbuffer check_via shm_hash_split_percentage
        shm_secondary_hash_size mem_warming mem_warming_enabled mem_warming_pattern_file
        mem_warming_percentage restart_persistency_cache_file restart_persistency_size
        memlog mem_log memdump mem_dump shm_memlog_size exec_msg_threshold execmsgthreshold
        exec_dns_threshold execdnsthreshold tcp_threshold tcpthreshold event_shm_threshold
        event_pkg_threshold query_buffer_size query_flush_time sip_warning server_signature
        server_header user_agent_header mhomed poll_method tcp_workers tcp_accept_aliases
        tcp_connect_timeout tcp_connection_lifetime tcp_socket_backlog tcp_max_connections
        tcp_no_new_conn_bflag tcp_no_new_conn_rplflag tcp_keepalive tcp_keepcount tcp_keepidle
        tcp_keepinterval tcp_max_msg_time tcp_parallel_read_on_workers advertised_address
        advertised_port mcast_loopback mcast_ttl tos disable_dns_failover disable_dns_blacklist
        dst_blacklist max_while_loops disable_stateless_fwd db_version_table db_default_url
        db_max_async_connections disable_503_translation auto_scaling_profile
        auto_scaling_cycle timer_workers mpath xlog_buf_size xlog_force_color xlog_print_level
        xlog_level pv_print_buf_size event_queue_size
        """
        return Set(words.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
    }()

    /// The known names by their lower-case spelling (for "names are case-sensitive").
    static let knownByLowercase: [String: String] = Dictionary(known.map { ($0.lowercased(), $0) }, uniquingKeysWith: { a, _ in a })

    /// The known names with their bytes, for the edit distances of every unknown name.
    static let knownUTF8: [(String, [UInt8])] = known.map { ($0, Array($0.utf8)) }

    /// Globals whose value is a socket-like spec (or `mem-group = "name": "mod" ...`, or a blacklist), kept raw.
    static let rawValued: Set<String> = ["socket", "listen", "alias", "mem-group", "dst_blacklist"]

    /// Globals of older versions that 3.x refuses, with what to write instead.
    static let removed: [String: String] = [
        "debug": "removed in 3.0: use log_level",
        "fork": "removed in 3.0: OpenSIPS always forks its workers",
        "disable_tcp": "removed in 3.0: TCP is enabled by loading proto_tcp.so and adding a tcp: socket",
        "disable_tls": "removed in 3.0: TLS is enabled by loading proto_tls.so and adding a tls: socket",
        "tcp_children": "renamed to tcp_workers in 3.0",
        "port": "removed in 3.0: give the port in the socket definition (socket = udp:IP:PORT)",
        "fifo": "removed: load mi_fifo.so and set modparam(\"mi_fifo\", \"fifo_name\", ...)",
        "fifo_mode": "removed: use modparam(\"mi_fifo\", \"fifo_mode\", ...)",
        "unix_sock": "removed: load mi_datagram.so and set its socket_name modparam",
        "sip_warning_level": "removed: use sip_warning",
    ]

    /// Why `name` is not a global parameter, when we can tell ("did you mean ...").
    static func hint(forUnknown name: String) -> String? {
        if let h = removed[name] { return h }
        if name.hasPrefix("tls_") { return "removed in 3.0: TLS settings are modparams of tls_mgm.so" }
        if let k = knownByLowercase[name.lowercased()] {
            return "did you mean '\(k)'? names are case-sensitive"
        }
        // A typo: the closest known name within a small edit distance. The two rows are made once for all the known
        // names (each distance made its own two arrays: a few hundred allocations per unknown name).
        let limit = name.count <= 4 ? 1 : 2
        let target = Array(name.utf8)
        var rows = EditRows(length: target.count)
        var best: (name: String, distance: Int)? = nil
        for (known, bytes) in knownUTF8 where abs(bytes.count - target.count) <= limit {
            let d = rows.distance(bytes, target, limit: limit)
            guard d <= limit else { continue }
            if best == nil || (d, known) < (best!.distance, best!.name) { best = (known, d) }
        }
        if let best { return "did you mean '\(best.name)'?" }
        return nil
    }

    /// Levenshtein distance, giving up (returning limit + 1) once it must exceed `limit`.
    static func editDistance(_ a: String, _ b: String, limit: Int) -> Int {
        if abs(a.utf8.count - b.utf8.count) > limit { return limit + 1 }
        return editDistance(Array(a.utf8), Array(b.utf8), limit: limit)
    }

    /// The same over bytes.
    static func editDistance(_ x: [UInt8], _ y: [UInt8], limit: Int) -> Int {
        var rows = EditRows(length: y.count)
        return rows.distance(x, y, limit: limit)
    }

    /// The two rows of a Levenshtein table against targets of one length, reused from one candidate to the next.
    struct EditRows {
        private var prev: [Int]
        private var cur: [Int]

        init(length: Int) {
            prev = Array(repeating: 0, count: length + 1)
            cur = prev
        }

        /// The distance from `x` to `y` (`y.count` is the length the rows were made for), or limit + 1 once it must
        /// exceed `limit`.
        mutating func distance(_ x: [UInt8], _ y: [UInt8], limit: Int) -> Int {
            precondition(y.count + 1 == prev.count, "rows made for another length")
            if abs(x.count - y.count) > limit { return limit + 1 }
            for j in 0...y.count { prev[j] = j }
            for i in 1...max(1, x.count) where !x.isEmpty {
                cur[0] = i
                var rowMin = i
                for j in 1...max(1, y.count) where !y.isEmpty {
                    let v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
                    cur[j] = v
                    rowMin = min(rowMin, v)
                }
                if rowMin > limit { return limit + 1 }
                swap(&prev, &cur)
            }
            return prev[y.count]
        }
    }

    /// Globals Switchyard acts on; the rest are accepted (OpenSIPS knows them) and stored.
    static let used: Set<String> = ["log_level", "udp_workers", "children", "mpath", "socket", "listen",
                                    "max_while_loops", "xlog_level", "xlog_print_level", "event_queue_size",
                                    "enable_asserts", "abort_on_assert", "alias", "db_default_url"]
}
