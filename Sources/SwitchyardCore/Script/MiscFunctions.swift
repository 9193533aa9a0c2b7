import Foundation

/// Core functions beside URI editing and branches: is_myself, the Via handling of one message (force_rport,
/// add_local_rport, set_advertised_*), revert_uri, setuserpass, get_timestamp, construct_uri, avp_print and
/// script_trace.
enum MiscFunctions {
    static func all() -> [FunctionDef] {
        func def(_ name: String, _ params: [UInt32], _ body: @escaping @Sendable (ScriptContext, [ArgValue]) -> Int) -> FunctionDef {
            FunctionDef(name: name, module: "core", params: params, impl: .core(body))
        }
        let str = ParamFlag.str, int = ParamFlag.int, opt = ParamFlag.opt, variable = ParamFlag.variable
        return [
            // setuserpass(v): v replaces the user:password part of the request-URI (the old password goes).
            def("setuserpass", [str]) { ctx, a in
                guard var uri = ctx.message.requestURI else {
                    ctx.engine.log.error("no request-URI to change")
                    return -1
                }
                let v = a[0].value.stringForm ?? ""
                if let colon = v.firstIndex(of: ":") {
                    uri.user = String(v[..<colon])
                    uri.password = String(v[v.index(after: colon)...])
                } else {
                    uri.user = v
                    uri.password = nil
                }
                ctx.message.requestURI = uri
                return 1
            },
            def("revert_uri", []) { ctx, _ in
                ctx.message.revertRequestURI()
                return 1
            },
            // is_myself(host[, port]): a listening socket's address or name, or an `alias`; no port: any port.
            def("is_myself", [str, int | opt]) { ctx, a in
                isMyself(ctx, host: a[0].value.stringForm ?? "", port: a[1].value.intForm ?? 0) ? 1 : -1
            },
            def("force_rport", []) { ctx, _ in
                ctx.message.via.forceRport = true
                return 1
            },
            def("add_local_rport", []) { ctx, _ in
                ctx.message.via.addLocalRport = true
                return 1
            },
            // set_via_handling("force-rport,add-local-rport,..."): the 3.5 form of the two above. reply-to-via and
            // force-tcp-alias are accepted and logged as not supported (see docs/core-functions.md).
            def("set_via_handling", [str]) { ctx, a in
                var via = ctx.message.via
                for f in (a[0].value.stringForm ?? "").split(separator: ",") {
                    switch f.trimmingCharacters(in: .whitespaces).lowercased() {
                    case "force-rport": via.forceRport = true
                    case "add-local-rport": via.addLocalRport = true
                    case "reply-to-via", "force-tcp-alias":
                        ctx.engine.log.warning("set_via_handling: '\(f)' is not supported, ignored")
                    case "": break
                    default:
                        ctx.engine.log.error("set_via_handling: unknown flag '\(f)' (force-rport, add-local-rport, reply-to-via, force-tcp-alias)")
                        return -1
                    }
                }
                ctx.message.via = via
                return 1
            },
            def("set_advertised_address", [str]) { ctx, a in
                // Empty: the socket's address again (OpenSIPS's via_builder uses the set value only when not empty).
                let v = a[0].value.stringForm ?? ""
                ctx.message.via.advertisedAddress = v.isEmpty ? nil : v
                return 1
            },
            def("set_advertised_port", [str]) { ctx, a in
                let v = a[0].value.stringForm ?? ""
                ctx.message.via.advertisedPort = v.isEmpty ? nil : v
                return 1
            },
            // get_timestamp($avp(sec), $avp(usec)): one clock read, both parts pushed on the AVPs.
            def("get_timestamp", [variable, variable]) { ctx, a in
                guard case .variable(let sec) = a[0], case .variable(let usec) = a[1] else { return -1 }
                var ts = timespec()
                clock_gettime(CLOCK_REALTIME, &ts)
                sec.set(ctx, .assign, .int(Int(ts.tv_sec)))
                usec.set(ctx, .assign, .int(Int(ts.tv_nsec / 1000)))
                return 1
            },
            // construct_uri(proto, [user], domain, [port], [extra], $avp(result)): proto ":" [user "@"] domain
            // [":" port] [";" extra] — the ';' is ours, as OpenSIPS's. A missing proto or domain is logged; the call
            // still answers 1, as OpenSIPS's does.
            def("construct_uri", [str, str | opt, str, str | opt, str | opt, variable]) { ctx, a in
                guard case .variable(let result) = a[5] else { return -1 }
                let proto = a[0].value.stringForm ?? "", domain = a[2].value.stringForm ?? ""
                guard !proto.isEmpty else { ctx.engine.log.error("construct_uri: no protocol specified"); return 1 }
                guard !domain.isEmpty else { ctx.engine.log.error("construct_uri: no domain specified"); return 1 }
                var uri = proto + ":"
                if let u = a[1].value.stringForm, !u.isEmpty { uri += u + "@" }
                uri += domain
                if let p = a[3].value.stringForm, !p.isEmpty { uri += ":" + p }
                if let e = a[4].value.stringForm, !e.isEmpty { uri += ";" + e }
                result.set(ctx, .assign, .str(uri))
                return 1
            },
            // avp_print(): OpenSIPS's dump of the AVP list (avpops' ops_print_avp text), newest first across names.
            def("avp_print", []) { ctx, _ in
                MiscFunctions.printAVPs(ctx)
                return 1
            },
            // script_trace([level, "format"[, "info"]]): traces every statement that follows (ScriptTrace); no
            // argument turns it off. A level without a format is OpenSIPS's E_CFG (-6).
            def("script_trace", [int | opt, str | opt | ParamFlag.noExpand, str | opt | ParamFlag.staticOnly]) { ctx, a in
                if case .omitted = a[0], case .omitted = a[1], case .omitted = a[2] {
                    ctx.trace = nil
                    return 1
                }
                guard let level = a[0].value.intForm else { return -6 }
                guard let text = a[1].value.stringForm else {
                    ctx.engine.log.error("script_trace: Missing 'pv_format_string' parameter")
                    return -6
                }
                guard let format = try? FormatString.parse(text, engine: ctx.engine, atRuntime: true) else {
                    ctx.engine.log.error("script_trace: bad format string \"\(text)\"")
                    return -6
                }
                ctx.trace = ScriptTrace(level: level, format: format, info: a[2].value.stringForm)
                return 1
            },
        ]
    }

    /// The AVPs newest first, as OpenSIPS walks its single list: `touchedAVPs` holds one entry per value pushed, so
    /// walking it backwards with a per-name count meets each live value once (a name emptied and refilled is not
    /// printed twice). `p=` cannot be OpenSIPS's `%p`: a stable pointer-like value from the position. The reserved
    /// AVPs (`__serial_branches`) are ours, not the script's: not printed.
    static func printAVPs(_ ctx: ScriptContext) {
        let log = ctx.engine.log
        let names = ctx.engine.avpSlots
        log.info("----------- All AVPs in this context --------")
        log.info("  (SIP txn, script event, timer route, etc.)")
        var seen: [Int: Int] = [:]
        var position = 0
        for slot in ctx.touchedAVPs.reversed() {
            let stack = ctx.avpStack(slot)
            let n = seen[slot, default: 0]
            guard n < stack.count else { continue }
            seen[slot] = n + 1
            let name = names.name(slot)
            if name == SerialBranches.avpName { continue }
            let flags: Int
            let valueLine: String
            switch stack[stack.count - 1 - n] {
            case .int(let i): flags = 0; valueLine = "    val_int=<\(i)>"
            case .str(let s): flags = 2; valueLine = "    val_str=<\(s) / \(s.utf8.count)>"
            case .null: flags = 4; valueLine = "    val_int=<0>"
            }
            let pointer = String(0x7f00_0000_1000 + position * 0x40, radix: 16)
            let hexFlags = String(flags, radix: 16, uppercase: true)
            log.info("p=0x\(pointer), flags=0x\(String(repeating: "0", count: 4 - hexFlags.count))\(hexFlags)")
            log.info("    name=<\(name)>")
            // OpenSIPS numbers AVP names from 1 in the order the script first names them (parse_avp_spec).
            log.info("    id=<\(slot + 1)>")
            log.info(valueLine)
            position += 1
        }
        log.info("---------------- END ALL AVPs ---------------")
    }

    /// is_myself(host[, port]): a listening socket's address or name, or an alias= entry; port 0 any (also ABI 1.14
    /// sip_is_myself, rr's loose_route).
    static func isMyself(_ ctx: ScriptContext, host rawHost: String, port: Int) -> Bool {
        let host = normalizedHost(rawHost)
        if ctx.engine.sip?.isListening(host: host, port: port) == true { return true }
        return ctx.engine.aliases.contains { s in
            normalizedHost(s.host) == host && (port == 0 || s.port == nil || s.port == port)
        }
    }

    /// A host as compared with our sockets' names: lower case, IPv6 without brackets and in its canonical text
    /// (`0:0:0:0:0:0:0:1` and `::1` are one address).
    static func normalizedHost(_ h: String) -> String {
        var t = h.lowercased()
        if t.hasPrefix("[") && t.hasSuffix("]") { t = String(t.dropFirst().dropLast()) }
        if t.contains(":"), let a = SocketAddress(ip: t, port: 0), a.family == AF_INET6 { return a.ip }
        return t
    }

    /// Output parameters OpenSIPS requires to be AVPs (fixup_check_avp), by function: checked at startup.
    static let avpOutputs: [String: [Int]] = ["get_timestamp": [0, 1], "construct_uri": [5]]
}
