// MI commands in OpenSIPS 3.x's JSON shapes: ds_list, ds_reload, ds_set_state, ds_push_script_attrs.
import DispatcherSelection
import SwitchyardPluginKit

extension DispatcherModule {
    func declareMI(_ m: inout ModuleExportsBuilder) {
        m.miCommand("ds_list", help: "list the destination sets (full: weight, priority, description)",
                    recipes: [[], ["full"], ["partition"], ["full", "partition"]]) { [self] req in
            list(req)
        }
        m.miCommand("ds_reload", help: "reload the destination sets from the database",
                    recipes: [[], ["partition"], ["inherit_state"], ["partition", "inherit_state"]]) { [self] req in
            var inherit = true
            if case .value(let s) = req.string("inherit_state") {
                let l = s.lowercased()
                inherit = !(l.hasPrefix("n") || l == "0" || l == "false" || l == "off")
            }
            let part = req.string("partition").value
            switch reload(partition: part, inheritState: inherit) {
            case .success: return .ok
            case .failure(let e) where e.description == "Unknown partition":
                return .error(code: 500, message: "ERROR Unknown partition") // 500 here (ds_set_state says 404)
            case .failure(let e):
                return .error(code: 500, message: "ERROR Reloading data", data: e.description + " (the old sets are kept)")
            }
        }
        m.miCommand("ds_set_state", help: "set a destination's state (a, i, p)",
                    recipes: [["state", "group", "address"]]) { [self] req in
            setStateMI(req)
        }
        m.miCommand("ds_push_script_attrs", help: "set the script attrs of the destinations with an address",
                    recipes: [["attrs", "ip", "port", "set"], ["attrs", "ip", "port", "set", "partition"]]) { [self] req in
            guard let rt else { return .error(code: 500, message: "not initialised") }
            // OpenSIPS's order: attrs (500 when empty), ip, port, set, then the partition (404).
            guard let attrs = req.string("attrs").value else { return .error(code: -32602, message: "Invalid params") }
            guard !attrs.isEmpty else { return .error(code: 500, message: "Bad attrs value") }
            guard let ip = req.string("ip").value, let port = req.int("port").value, let set = req.int("set").value else {
                return .error(code: -32602, message: "Invalid params")
            }
            var part = rt.defaultPart
            if case .value(let n) = req.string("partition") {
                guard let p = rt.byName[n] else { return .error(code: 404, message: "ERROR Unknown partition") }
                part = p
            }
            return setScriptAttrs(part, attrs: attrs, ip: ip, port: Int(port), set: Int(set))
                ? .ok : .error(code: 404, message: "destination not found")
        }
    }

    func list(_ req: MIRequest) -> MIReply {
        guard let rt else { return .error(code: 500, message: "not initialised") }
        var full = false
        switch req.int("full") {
        case .value(let v): full = v != 0
        case .badType: full = req.string("full").value.map { !$0.isEmpty && $0 != "0" } ?? false
        case .absent: break
        }
        var parts = rt.parts
        if case .value(let n) = req.string("partition") {
            guard let p = rt.byName[n] else { return .error(code: 500, message: "ERROR Unknown partition") }
            parts = [p]
        }
        let q = MIReply.quote
        var out = "{\"PARTITIONS\":["
        for (pi, p) in parts.enumerated() {
            if pi > 0 { out += "," }
            out += "{\"name\":" + q(p.cfg.name)
            let sets = p.data.sets
            if !sets.isEmpty {
                out += ",\"SETS\":["
                for (si, set) in sets.enumerated() {
                    if si > 0 { out += "," }
                    out += "{\"id\":\(set.id),\"Destinations\":["
                    for (di, d) in set.dests.enumerated() {
                        if di > 0 { out += "," }
                        out += "{\"URI\":" + q(d.uri) + ",\"state\":" + q(d.stateName)
                        out += ",\"first_hit_counter\":\(d.chosen.load(ordering: .relaxed))"
                        if !d.socket.isEmpty { out += ",\"socket\":" + q(d.socket) }
                        if let a = d.attrs, !a.isEmpty { out += ",\"attr\":" + q(a) }
                        if let a = d.scriptAttrs.withLock({ $0 }) { out += ",\"script_attr\":" + q(a) }
                        if full {
                            out += ",\"weight\":\(d.weight.load(ordering: .relaxed)),\"priority\":\(d.priority)"
                            if let desc = d.description, !desc.isEmpty { out += ",\"description\":" + q(desc) }
                        }
                        out += ",\"resolved_addresses\":[" + d.addresses.map { a in
                            q((a.ip.contains(":") ? "[\(a.ip)]" : a.ip) + ":\(a.port)")
                        }.joined(separator: ",") + "]}"
                    }
                    out += "]}"
                }
                out += "]"
            }
            out += "}"
        }
        return .json(out + "]}")
    }

    func setStateMI(_ req: MIRequest) -> MIReply {
        guard let rt else { return .error(code: 500, message: "not initialised") }
        guard let stateText = req.string("state").value, let first = stateText.first, let state = DSState(String(first)) else {
            return .error(code: 500, message: "Bad state value")
        }
        guard let groupText = req.string("group").value, let address = req.string("address").value else {
            return .error(code: -32602, message: "Invalid params")
        }
        var part = rt.defaultPart
        var setText = Substring(groupText)
        if let c = groupText.lastIndex(of: ":") {
            guard let p = rt.byName[String(groupText[..<c]).trimmingSpaces()] else {
                return .error(code: 404, message: "ERROR Unknown partition")
            }
            part = p
            setText = groupText[groupText.index(after: c)...]
        }
        guard let setID = Int(setText.trimmingSpaces()), setID >= 0 else {
            return .error(code: 500, message: "bad group value")
        }
        guard let set = part.data.set(setID),
              let d = set.dests.first(where: { $0.uri.utf8.count == address.utf8.count && $0.uri.lowercased() == address.lowercased() }) else {
            return .error(code: 404, message: "destination not found")
        }
        // As OpenSIPS: `p` counts one failure (the destination enters probing at ds_probing_threshold of them), or, on
        // an inactive destination, counts nothing and makes it active.
        changeState(d, part: part, to: state, reason: "MI command", thresholded: true, clearInactive: true)
        return .ok
    }
}
