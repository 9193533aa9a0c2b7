import Foundation

/// Core script functions with ordinary fixups (OpenSIPS `core_cmds[]`): R-URI and destination
/// URI editing, and pv_printf. The special ones (xlog, route, flags ...) live in CoreCalls.
enum CoreFunctions {
    static func all() -> [FunctionDef] {
        func def(_ name: String, _ params: [UInt32], _ body: @escaping @Sendable (ScriptContext, [ArgValue]) -> Int) -> FunctionDef {
            FunctionDef(name: name, module: "core", params: params, impl: .core(body))
        }
        /// Edits the request-URI; fails (-1) when there is none to edit.
        @Sendable func editURI(_ ctx: ScriptContext, _ edit: (inout SIPURI) -> Bool) -> Int {
            guard var uri = ctx.message.requestURI else {
                ctx.engine.log.error("no request-URI to change")
                return -1
            }
            guard edit(&uri) else { return -1 }
            ctx.message.requestURI = uri
            return 1
        }
        let str = ParamFlag.str, int = ParamFlag.int
        return [
            // forward([dest]): stateless relay to dest, else $du, else the request-URI.
            def("forward", [str | ParamFlag.opt]) { ctx, a in
                guard let sip = ctx.engine.sip else {
                    ctx.engine.log.error("forward(): no SIP transport is loaded")
                    return -1
                }
                return sip.forward(ctx, dest: a.first?.value.stringForm)
            },
            // send(dest[, headers]): the received message as it is, to [proto:]host[:port].
            def("send", [str, str | ParamFlag.opt]) { ctx, a in
                guard let sip = ctx.engine.sip else {
                    ctx.engine.log.error("send(): no SIP transport is loaded")
                    return -1
                }
                return sip.send(ctx, dest: a[0].value.stringForm ?? "", headers: a[1].value.stringForm)
            },
            // force_send_socket([proto:]host[:port]): forward() sends from this listening socket.
            def("force_send_socket", [str]) { ctx, a in
                let text = a[0].value.stringForm ?? ""
                guard let sip = ctx.engine.sip, let socket = sip.findSocket(text) else {
                    ctx.engine.log.error("force_send_socket: <\(text)> is not a listening socket")
                    return -1
                }
                ctx.message.forcedSocket = socket
                return 1
            },
            def("seturi", [str]) { ctx, a in
                guard let u = a[0].value.stringForm.flatMap({ SIPURI($0) }) else { return -1 }
                ctx.message.requestURI = u
                return 1
            },
            def("setuser", [str]) { ctx, a in editURI(ctx) { $0.user = a[0].value.stringForm ?? ""; return true } },
            def("sethost", [str]) { ctx, a in editURI(ctx) { $0.host = a[0].value.stringForm ?? ""; return true } },
            def("setport", [str]) { ctx, a in editURI(ctx) { $0.port = a[0].value.stringForm ?? ""; return true } },
            def("sethostport", [str]) { ctx, a in
                editURI(ctx) { u in
                    let hp = a[0].value.stringForm ?? ""
                    if let c = hp.lastIndex(of: ":"), !hp.hasSuffix("]") {
                        u.host = String(hp[..<c])
                        u.port = String(hp[hp.index(after: c)...])
                    } else {
                        u.host = hp
                        u.port = ""
                    }
                    return true
                }
            },
            def("prefix", [str]) { ctx, a in editURI(ctx) { $0.user = (a[0].value.stringForm ?? "") + $0.user; return true } },
            def("strip", [int]) { ctx, a in
                editURI(ctx) { u in
                    let n = a[0].value.intForm ?? 0
                    guard n >= 0 else { return false }
                    u.user = n >= u.user.count ? "" : String(u.user.dropFirst(n))
                    return true
                }
            },
            def("strip_tail", [int]) { ctx, a in
                editURI(ctx) { u in
                    let n = a[0].value.intForm ?? 0
                    guard n >= 0 else { return false }
                    u.user = n >= u.user.count ? "" : String(u.user.dropLast(n))
                    return true
                }
            },
            def("setdsturi", [str]) { ctx, a in
                guard let s = a[0].value.stringForm, SIPURI(s) != nil else { return -1 }
                ctx.message.destinationURI = s
                return 1
            },
            def("resetdsturi", []) { ctx, _ in
                ctx.message.destinationURI = nil
                return 1
            },
            def("isdsturiset", []) { ctx, _ in ctx.message.destinationURI == nil ? -1 : 1 },
            // pv_printf($pv, "format"): the format is printed into the variable.
            def("pv_printf", [ParamFlag.variable, str]) { ctx, a in
                guard case .variable(let pv) = a[0] else { return -1 }
                return pv.set(ctx, .assign, a[1].value) ? 1 : -1
            },
        ]
    }
}

/// A q value ("0", "1", "0.5", "1.000") in thousandths, as OpenSIPS keeps it (0...1000).
enum QValue {
    static func parse(_ t: String) -> Int? {
        let v = t.trimmingCharacters(in: .whitespaces)
        let parts = v.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let whole = Int(parts[0]), parts[0].allSatisfy(\.isNumber),
              whole <= 1 else { return nil }
        var frac = 0
        if parts.count == 2 {
            let f = parts[1]
            guard !f.isEmpty, f.count <= 3, f.allSatisfy(\.isNumber) else { return nil }
            frac = Int(f.padding(toLength: 3, withPad: "0", startingAt: 0))!  // 1...3 digits, checked above
        }
        let q = whole * 1000 + frac
        return q <= 1000 ? q : nil
    }
}
