import Foundation
import SwitchyardABI

/// The sy_host_api table handed to every plugin's entry function: one per running core, whose `runtime`
/// field is that core (HostServices.swift says how each callback finds its core).
enum HostTable {
    /// A table without a core (runtime NULL), for opening plugins outside a running server (a syntax check).
    nonisolated(unsafe) static let shared: UnsafePointer<sy_host_api> = build(runtime: nil)

    /// A new table for the core `runtime`. Never freed: plugins may keep the pointer for the life of the process.
    static func build(runtime: OpaquePointer?) -> UnsafePointer<sy_host_api> {
        // Raw memory of the compile-time size: UnsafeMutablePointer<sy_host_api>.allocate/initialize would take the
        // size from the process's one metadata record of the C type, which a plugin built against an older
        // (shorter) header may have registered first.
        var table = make()
        table.runtime = runtime
        let size = MemoryLayout<sy_host_api>.stride
        let p = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: MemoryLayout<sy_host_api>.alignment)
        p.copyMemory(from: &table, byteCount: size)
        return UnsafePointer(p.assumingMemoryBound(to: sy_host_api.self))
    }

    static func writeError(_ err: UnsafeMutablePointer<CChar>?, _ len: Int, _ message: String) {
        guard let err, len > 0 else { return }
        let bytes = Array(message.utf8.prefix(len - 1))
        for (i, b) in bytes.enumerated() { err[i] = CChar(bitPattern: b) }
        err[bytes.count] = 0
    }

    static func context(_ p: OpaquePointer?) -> ScriptContext? {
        p.map { Unmanaged<ScriptContext>.fromOpaque(UnsafeRawPointer($0)).takeUnretainedValue() }
    }

    static func cString(_ p: UnsafePointer<CChar>?) -> String? { p.map { String(cString: $0) } }

    static func make() -> sy_host_api {
        var h = sy_host_api()
        h.header = sy_table_header(abi_major: UInt32(SY_ABI_MAJOR), abi_minor: UInt32(SY_ABI_MINOR),
                                   struct_size: UInt32(MemoryLayout<sy_host_api>.stride), reserved: 0)

        h.log = { level, module, msg, len in HostTable.log(HostBridge.services, level, module, msg, len) }

        h.var_parse = { spec, len, err, errlen in
            guard let s = HostBridge.services, let spec else {
                HostTable.writeError(err, errlen, "the core is not running")
                return nil
            }
            let text = String(decoding: UnsafeRawBufferPointer(start: spec, count: len), as: UTF8.self)
            do {
                let pv = try s.engine.resolvePV(text)
                return OpaquePointer(s.engine.varHandles.handle(for: pv))
            } catch {
                HostTable.writeError(err, errlen, (error as? PVResolveError)?.message ?? "\(error)")
                return nil
            }
        }

        h.var_get = { ctxp, varp, out in
            guard let ctx = HostTable.context(ctxp), let varp, let out else { return -1 }
            let pv = VarHandleStore.pv(from: UnsafeRawPointer(varp))
            let v = pv.get(ctx)
            var cv = sy_value()
            switch v {
            case .null: cv.type = Int32(SY_VAL_NULL.rawValue)
            case .int(let i):
                cv.type = Int32(SY_VAL_INT.rawValue)
                cv.i = Int64(i)
            case .str(let s):
                // Kept in the context until the next host call on it (documented lifetime).
                cv.type = Int32(SY_VAL_STR.rawValue)
                cv.s = ctx.keepCString(s)
            }
            out.pointee = cv
            return 0
        }

        h.var_set = { ctxp, varp, value in
            guard let ctx = HostTable.context(ctxp), let varp else { return -1 }
            let pv = VarHandleStore.pv(from: UnsafeRawPointer(varp))
            let v = value.map { ABIReader.value($0.pointee) } ?? .null
            return pv.set(ctx, .assign, v) ? 0 : -1
        }

        h.event_raise = { name, params, n in HostTable.raise(HostBridge.services, name, params, n, wait: nil) }

        h.event_raise_wait = { name, params, n, timeout in
            HostTable.raise(HostBridge.services, name, params, n, wait: timeout)
        }

        h.timer_add = { name, interval, cb, user in HostTable.addTimer(HostBridge.services, name, interval, cb, user) }

        // The handle names its own core (TimerHandle): no process-wide lookup.
        h.timer_remove = { t in TimerHandle.remove(t) }

        h.stat_register = { module, name, flags in HostTable.statRegister(HostBridge.services, module, name, flags) }

        h.stat_update = { stat, delta in
            guard let stat else { return }
            // A registered stat is held by the core's statistics registry, which never drops one and lives until the
            // server stops, after the last plugin call: no retain/release around the add (13 updates per stateful call).
            Unmanaged<StatCell>.fromOpaque(UnsafeRawPointer(stat))._withUnsafeGuaranteedRef { $0.update(delta) }
        }

        h.stat_get = { stat in
            guard let stat else { return 0 }
            return Unmanaged<StatCell>.fromOpaque(UnsafeRawPointer(stat)).takeUnretainedValue().value
        }

        h.mi_register = { module, cmd, size in
            guard let s = HostBridge.services, let module, let cmd else { return -1 }
            guard Int(size) >= MemoryLayout<sy_mi_export>.size else { return -1 }
            let export = ABIReader.copy(sy_mi_export.self, from: UnsafeRawPointer(cmd), available: Int(size))
            return s.miRegister(module: String(cString: module), export: export) ? 0 : -1
        }

        h.mi_param_str = { call, name, out in
            guard let call, let name, let out else { return -1 }
            return MICallBox.from(call).paramString(String(cString: name), out)
        }

        h.mi_param_int = { call, name, out in
            guard let call, let name, let out else { return -1 }
            return MICallBox.from(call).paramInt(String(cString: name), out)
        }

        h.mi_param_json = { call, name, out in
            guard let call, let name, let out else { return -1 }
            return MICallBox.from(call).paramJSON(String(cString: name), out)
        }

        h.mi_reply_json = { call, json, len in
            guard let call else { return }
            let text = json.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: len), as: UTF8.self) } ?? ""
            MICallBox.from(call).replyJSON(text)
        }

        h.mi_reply_error = { call, code, message, data in
            guard let call else { return }
            MICallBox.from(call).replyError(Int(code), HostTable.cString(message) ?? "Error", HostTable.cString(data))
        }

        h.api_publish = { name, table in
            guard let s = HostBridge.services, let name, let table else { return -1 }
            return s.apiPublish(name: String(cString: name), table: table) ? 0 : -1
        }

        h.api_bind = { name, major, minSize, err, errlen in
            guard let s = HostBridge.services, let name else {
                HostTable.writeError(err, errlen, "the core is not running")
                return nil
            }
            switch s.apiBind(name: String(cString: name), major: major, minSize: minSize) {
            case .success(let p): return p
            case .failure(let e):
                HostTable.writeError(err, errlen, e.message)
                return nil
            }
        }

        h.db_bind = { url, major, minSize, err, errlen in
            guard let s = HostBridge.services, let url else {
                HostTable.writeError(err, errlen, "the core is not running")
                return nil
            }
            let u = String(cString: url)
            guard let colon = u.firstIndex(of: ":"), colon != u.startIndex else {
                HostTable.writeError(err, errlen, "bad database URL '\(u)': expected scheme://...")
                return nil
            }
            let scheme = String(u[..<colon]).lowercased()
            switch s.apiBind(name: "db:" + scheme, major: major, minSize: minSize) {
            case .success(let p): return p
            case .failure(let e):
                // No driver at all is the usual mistake; a version or size mismatch says so itself.
                let missing = e.message.hasPrefix("no module publishes")
                HostTable.writeError(err, errlen, missing ? "no database driver for scheme '\(scheme)' (loadmodule \"db_\(scheme).so\"?)" : e.message)
                return nil
            }
        }

        h.ctx_route_type = { ctxp in
            HostTable.context(ctxp).map { $0.routeType.rawValue } ?? 0
        }

        h.ctx_worker = { ctxp in
            HostTable.context(ctxp).map { Int32($0.worker.rank) } ?? 0
        }

        h.mi_dispatch = { request, len, reply, arg in HostTable.miDispatch(HostBridge.services, request, len, reply, arg) }

        h.route_find = { name in
            guard let s = HostBridge.services, let name, let box = s.engine.namedRoutes[String(cString: name)] else { return nil }
            // Routes live as long as the engine; the handle is the RouteBox itself.
            return OpaquePointer(Unmanaged.passUnretained(box).toOpaque())
        }

        h.route_run = { ctxp, route in
            guard let ctx = HostTable.context(ctxp), let route else { return -1 }
            let box = Unmanaged<RouteBox>.fromOpaque(UnsafeRawPointer(route)).takeUnretainedValue()
            return Int32(RouteCallNode.run(box, args: [], ctx: ctx, location: box.location))
        }

        h.log_enabled = { level in
            HostBridge.services.map { $0.log.enabled(Int(level)) ? 1 : 0 } ?? 0
        }
        installSIP(&h)
        installAuthoring(&h)
        installTransactions(&h)
        installRuntime(&h)
        installUAC(&h)
        installMIAsync(&h)
        installLocalRoute(&h)
        installFailover(&h)
        installResolve(&h)
        installMyself(&h)
        installLocalReply(&h)
        installRewrite(&h)
        return h
    }
}
