import SwitchyardABI

/// The runtime-handle entries of the host table (ABI 1.8), and what they share with the older
/// handle-less forms: the same work on the core the handle names instead of the published one.
extension HostTable {
    static func log(_ core: (any HostServices)?, _ level: Int32, _ module: UnsafePointer<CChar>?,
                    _ msg: UnsafePointer<CChar>?, _ len: Int) {
        guard let core, core.log.enabled(Int(level)) else { return }
        let text = msg.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: len), as: UTF8.self) } ?? ""
        core.log.write(Int(level), module: cString(module) ?? "plugin", text)
    }

    /// event_raise (wait nil) and event_raise_wait (wait: the timeout in ms, 0 = no limit).
    static func raise(_ core: (any HostServices)?, _ name: UnsafePointer<CChar>?, _ params: UnsafePointer<sy_event_param>?,
                      _ n: UInt32, wait: UInt32?) -> Int32 {
        guard let core, let name else { return -1 }
        var list: [(name: String, value: Value)] = []
        var trees: [(index: Int, tree: ValueTree)] = []
        if let params {
            list.reserveCapacity(Int(n))
            for i in 0..<Int(n) {
                let v = params[i].value
                if v.type == Int32(SY_VAL_OBJECT.rawValue) || v.type == Int32(SY_VAL_ARRAY.rawValue) {
                    // 1.9: copied whole; the script gets its JSON text only if it reads it as a string.
                    guard let tree = ValueTree(copying: v) else { return -1 }
                    trees.append((index: i, tree: tree))
                }
                list.append((name: ABIReader.str(params[i].name), value: ABIReader.value(v)))
            }
        }
        if let wait { return Int32(core.raiseEventWaiting(String(cString: name), list, trees: trees, timeoutMS: wait)) }
        return Int32(core.raiseEvent(String(cString: name), list, trees: trees))
    }

    static func addTimer(_ core: (any HostServices)?, _ name: UnsafePointer<CChar>?, _ interval: UInt32,
                         _ cb: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?, _ user: UnsafeMutableRawPointer?) -> OpaquePointer? {
        guard let core, let cb, interval > 0 else { return nil }
        let userBits = UInt(bitPattern: user)
        let id = core.addTimer(name: cString(name) ?? "plugin", intervalMS: interval) {
            cb(UnsafeMutableRawPointer(bitPattern: userBits))
        }
        return OpaquePointer(bitPattern: id)
    }

    static func installRuntime(_ h: inout sy_host_api) {
        h.rt_log = { rt, level, module, msg, len in HostTable.log(HostBridge.runtime(rt), level, module, msg, len) }

        h.rt_log_enabled = { rt, level in HostBridge.runtime(rt).map { $0.log.enabled(Int(level)) ? 1 : 0 } ?? 0 }

        h.rt_event_raise = { rt, name, params, n in HostTable.raise(HostBridge.runtime(rt), name, params, n, wait: nil) }

        h.rt_event_raise_wait = { rt, name, params, n, timeout in
            HostTable.raise(HostBridge.runtime(rt), name, params, n, wait: timeout)
        }

        h.rt_sip_request = { rt, method, ruri, dst, extra, socket, timeout, done, arg in
            HostTable.sipRequest(HostBridge.runtime(rt), method, ruri, dst, extra, socket, timeout, done, arg)
        }

        h.rt_timer_add = { rt, name, interval, cb, user in
            HostTable.addTimer(HostBridge.runtime(rt), name, interval, cb, user)
        }
    }
}
