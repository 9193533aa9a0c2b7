/// The core's blacklist functions: use_blacklist / unuse_blacklist select the lists a message's destinations are
/// checked against; check_blacklist_rule tests an address against one list; add_blacklist_rule / del_blacklist_rule
/// change a list while running.
enum BlacklistFunctions {
    static func all(_ lists: Blacklists) -> [FunctionDef] {
        let str = ParamFlag.str, int = ParamFlag.int, opt = ParamFlag.opt
        /// A literal list name must exist at startup ("all" stands for every list), as OpenSIPS's fixup.
        let nameFixup: FunctionFixup = { args in
            guard case .constant(let v)? = args.first, let name = v.stringForm else { return nil }
            if name.lowercased() == "all" || lists.index(of: name) != nil { return nil }
            return FixupFailure(argument: 0, "blacklist '\(name)' is not defined (dst_blacklist)")
        }
        let listFixup: FunctionFixup = { args in
            guard case .constant(let v)? = args.first, let name = v.stringForm else { return nil }
            return lists.index(of: name) != nil ? nil : FixupFailure(argument: 0, "blacklist '\(name)' is not defined (dst_blacklist)")
        }
        /// The rule argument of add/del: a literal that does not parse stops startup.
        let ruleFixup: FunctionFixup = { args in
            if let f = listFixup(args) { return f }
            guard args.count > 1, case .constant(let v) = args[1], let text = v.stringForm else { return nil }
            do throws(BlacklistParser.Failure) { _ = try BlacklistParser.rule(text) } catch {
                return FixupFailure(argument: 1, "bad blacklist rule '\(text)': \(error.message)")
            }
            return nil
        }
        @Sendable func mark(_ ctx: ScriptContext, _ name: String, on: Bool) -> Int {
            var mask = ctx.message.blacklistMask ?? lists.defaultMask
            if name.lowercased() == "all" {
                mask = on ? UInt32.max : 0
            } else {
                guard let i = lists.index(of: name) else {
                    ctx.engine.log.error("\(on ? "use" : "unuse")_blacklist: no blacklist '\(name)'")
                    return -1
                }
                if on { mask |= 1 << UInt32(i) } else { mask &= ~(1 << UInt32(i)) }
            }
            ctx.message.blacklistMask = mask
            return 1
        }
        let check: @Sendable (ScriptContext, [ArgValue]) -> Int = { ctx, a in
            let name = a[0].value.stringForm ?? ""
            guard let ip = IPBytes(a[1].value.stringForm ?? "") else {
                ctx.engine.log.error("check_blacklist_rule: '\(a[1].value.stringForm ?? "")' is not an IP address")
                return -1
            }
            let port = a.count > 2 ? a[2].value.intForm ?? 0 : 0
            let proto = (a.count > 3 ? a[3].value.stringForm : nil)?.lowercased() ?? "any"
            let text = (a.count > 4 ? a[4].value.stringForm : nil) ?? ""
            guard let hit = lists.check(list: name, ip: ip, port: port, proto: proto, text: text) else {
                ctx.engine.log.error("check_blacklist_rule: no blacklist '\(name)'")
                return -1
            }
            return hit ? 1 : -1
        }
        func def(_ name: String, _ params: [UInt32], fixup: FunctionFixup?, _ body: @escaping @Sendable (ScriptContext, [ArgValue]) -> Int) -> FunctionDef {
            FunctionDef(name: name, module: "core", params: params, impl: .core(body), fixup: fixup)
        }
        return [
            def("use_blacklist", [str], fixup: nameFixup) { ctx, a in mark(ctx, a[0].value.stringForm ?? "", on: true) },
            def("unuse_blacklist", [str], fixup: nameFixup) { ctx, a in mark(ctx, a[0].value.stringForm ?? "", on: false) },
            // check_blacklist_rule(list, ip[, port[, proto[, text]]]): true when the list blocks that destination.
            def("check_blacklist_rule", [str, str, int | opt, str | opt, str | opt], fixup: listFixup, check),
            // The name before 3.5.
            def("check_blacklist", [str, str, int | opt, str | opt, str | opt], fixup: listFixup, check),
            // add_blacklist_rule(list, "(proto, ip[/mask], port, \"pattern\")"[, expire seconds]).
            def("add_blacklist_rule", [str, str, int | opt], fixup: ruleFixup) { ctx, a in
                let name = a[0].value.stringForm ?? "", text = a[1].value.stringForm ?? ""
                let rule: BlacklistRule
                do throws(BlacklistParser.Failure) { rule = try BlacklistParser.rule(text) } catch {
                    ctx.engine.log.error("add_blacklist_rule: bad rule '\(text)': \(error.message)")
                    return -1
                }
                let expire = a.count > 2 ? a[2].value.intForm ?? 0 : 0
                guard lists.add(list: name, rule: rule, expire: max(0, expire)) else {
                    ctx.engine.log.error("add_blacklist_rule: no blacklist '\(name)'")
                    return -1
                }
                return 1
            },
            // del_blacklist_rule(list, rule): false when the list has no such rule.
            def("del_blacklist_rule", [str, str], fixup: ruleFixup) { ctx, a in
                let name = a[0].value.stringForm ?? "", text = a[1].value.stringForm ?? ""
                let rule: BlacklistRule
                do throws(BlacklistParser.Failure) { rule = try BlacklistParser.rule(text) } catch {
                    ctx.engine.log.error("del_blacklist_rule: bad rule '\(text)': \(error.message)")
                    return -1
                }
                guard let removed = lists.delete(list: name, rule: rule) else {
                    ctx.engine.log.error("del_blacklist_rule: no blacklist '\(name)'")
                    return -1
                }
                return removed ? 1 : -1
            },
        ]
    }
}
