// MI commands, in the OpenSIPS 3.x JSON shapes.
import Foundation
import SwitchyardPluginKit

extension DroutingModule {
    func declareMI(_ m: inout ModuleExportsBuilder) {
        let part = "partition_name"
        m.miCommand("dr_reload", help: "reload rules, gateways and carriers from the database",
                    recipes: [[], [part], ["inherit_state"], [part, "inherit_state"]]) { [self] req in
            if case .value(let p) = req.string(part), p != "Default" {
                return .error(code: 400, message: "Partition not found")
            }
            var inherit = true
            if case .value(let s) = req.string("inherit_state") { inherit = !(s.lowercased().hasPrefix("n") || s == "0") }
            switch reload(inheritState: inherit) {
            case .success: return .ok
            case .failure(let e):
                return .error(code: 500, message: e.description == "Reload already in progress" ? e.description : "Failed to reload",
                              data: e.description)
            }
        }
        m.miCommand("dr_reload_status", help: "time of the last (re)load", recipes: [[], [part]]) { [self] _ in
            .object([("Date", .string(ctimeText(lastReload.withLock { $0 })))])
        }
        m.miCommand("dr_gw_status", help: "list gateways, show or set one gateway's state",
                    recipes: [[], ["gw_id"], ["gw_id", "status"], [part], [part, "gw_id"], [part, "gw_id", "status"]],
                    namedParamsOnly: true) { [self] req in
            gwStatus(req)
        }
        m.miCommand("dr_carrier_status", help: "list carriers, show or set one carrier's state",
                    recipes: [[], ["carrier_id"], ["carrier_id", "status"], [part], [part, "carrier_id"],
                              [part, "carrier_id", "status"]],
                    namedParamsOnly: true) { [self] req in
            carrierStatus(req)
        }
        m.miCommand("dr_enable_probing", help: "show (no parameter) or switch (status 0/1) gateway probing",
                    recipes: [[], ["status"]]) { [self] req in
            switch req.int("status") {
            case .absent:
                return .object([("Status", .int(probingOn.load(ordering: .relaxed) ? 1 : 0))])
            case .value(let v):
                probingOn.store(v != 0, ordering: .relaxed)
                return .ok
            case .badType:
                return .error(code: 400, message: "Bad status value")
            }
        }
        m.miCommand("dr_number_routing", help: "which rule a number hits (time-aware)",
                    recipes: [["number"], ["group_id", "number"], [part, "number"], [part, "group_id", "number"]],
                    namedParamsOnly: true) { [self] req in
            numberRouting(req)
        }
    }

    private func status(_ req: MIRequest) -> Result<Int64?, MIReplyError> {
        switch req.int("status") {
        case .absent: return .success(nil)
        case .value(let v) where v == 0 || v == 1: return .success(v)
        default: return .failure(MIReplyError(reply: .error(code: 400, message: "Bad status value")))
        }
    }

    func gwStatus(_ req: MIRequest) -> MIReply {
        let snap = current.1
        guard case .value(let id) = req.string("gw_id") else {
            let items = snap.gateways.map { gw -> String in
                var f = [("ID", gw.id), ("IP", gw.ipStr)]
                if !gw.attrs.isEmpty { f.append(("ATTRS", gw.attrs)) }
                f.append(("State", gw.stateName))
                return jsonObject(f)
            }
            return .json("{\"Gateways\": [" + items.joined(separator: ", ") + "]}")
        }
        guard let gi = snap.gwIndex[id] else { return .error(code: 404, message: "GW ID not found") }
        let gw = snap.gateways[Int(gi)]
        switch status(req) {
        case .failure(let e): return e.reply
        case .success(let st?):
            setGWState(gw, enabled: st == 1, byMI: true)
            return .ok
        case .success(nil):
            var f: [(String, String)] = []
            if !gw.attrs.isEmpty { f.append(("ATTRS", gw.attrs)) }
            f.append(("State", gw.stateName))
            return .json(jsonObject(f))
        }
    }

    func carrierStatus(_ req: MIRequest) -> MIReply {
        let snap = current.1
        func enabled(_ c: Carrier) -> String { c.state.isDisabled ? "no " : "yes" }
        guard case .value(let id) = req.string("carrier_id") else {
            let items = snap.carriers.map { c -> String in
                var f = [("ID", c.id)]
                if !c.attrs.isEmpty { f.append(("ATTRS", c.attrs)) }
                f.append(("Enabled", enabled(c)))
                return jsonObject(f)
            }
            return .json("{\"Carriers\": [" + items.joined(separator: ", ") + "]}")
        }
        guard let ci = snap.carrierIndex[id] else { return .error(code: 404, message: "Carrier ID not found") }
        let c = snap.carriers[Int(ci)]
        switch status(req) {
        case .failure(let e): return e.reply
        case .success(let st?):
            c.state.update { _ in st == 1 ? 0 : StateCell.disabled | StateCell.byMI }
            return .ok
        case .success(nil):
            var f: [(String, String)] = []
            if !c.attrs.isEmpty { f.append(("ATTRS", c.attrs)) }
            f.append(("Enabled", enabled(c)))
            return .json(jsonObject(f))
        }
    }

    func numberRouting(_ req: MIRequest) -> MIReply {
        let (rtOpt, snap) = current
        guard case .value(let number) = req.string("number") else { return .error(code: -32602, message: "Invalid params") }
        // Without group_id OpenSIPS uses group -1 (0xFFFFFFFF): normally nothing matches.
        var group = UInt32.max
        switch req.int("group_id") {
        case .value(let g): guard let g32 = UInt32(exactly: g) else { return .string("No match") }; group = g32
        case .badType: return .error(code: 400, message: "Bad group_id")
        case .absent: break
        }
        let now = rtOpt?.now() ?? Int64(time(nil))
        guard let m = snap.lookup(number: number, group: group, now: now, strict: false) else { return .string("No match") }
        let rule = snap.rule(m.rule)
        let prefix = m.level < 0 ? "" : String(number.utf8.prefix(m.level))!
        let list = rule.rawItems.map { jsonObject([($0.isCarrier ? "CARRIER" : "GATEWAY", $0.id)]) }
        var out = "{" + MIReply.quote("Matched Prefix") + ": " + MIReply.quote(prefix) + ", "
            + MIReply.quote("GW List") + ": [" + list.joined(separator: ", ") + "]"
        if !rule.attrs.isEmpty { out += ", " + MIReply.quote("ATTRS") + ": " + MIReply.quote(rule.attrs) }
        return .json(out + "}")
    }
}

struct MIReplyError: Error { let reply: MIReply }

func jsonObject(_ fields: [(String, String)]) -> String {
    "{" + fields.map { MIReply.quote($0.0) + ": " + MIReply.quote($0.1) }.joined(separator: ", ") + "}"
}

func ctimeText(_ t: Int64) -> String {
    var tt = time_t(t)
    var buf = [CChar](repeating: 0, count: 32)
    ctime_r(&tt, &buf)
    var s = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    if s.hasSuffix("\n") { s.removeLast() }
    return s
}
