// The tm API table other modules bind (switchyard_tm.h): t_uac, transaction callbacks, transaction state.
import SwitchyardABI
import SwitchyardPluginKit

enum TMAPI {
    /// Built once; the functions reach the engine through `theTM` (the C table carries no handle).
    nonisolated(unsafe) static let table: UnsafeMutablePointer<sy_tm_api> = {
        // Raw zeroed memory of the compile-time size, not allocate/initialize: a shorter sy_tm_api of an older
        // plugin in the process would make those generic calls short (see CTable).
        let t = CTable.zeroed(size: MemoryLayout<sy_tm_api>.stride, alignment: MemoryLayout<sy_tm_api>.alignment)
            .assumingMemoryBound(to: sy_tm_api.self)
        t.pointee.header = sy_table_header(abi_major: UInt32(SY_TM_MAJOR), abi_minor: UInt32(SY_TM_MINOR),
                                           struct_size: UInt32(MemoryLayout<sy_tm_api>.size), reserved: 0)
        t.pointee.t_uac = { method, ruri, dst, extra, socket, timeout, done, arg in
            guard let tm = theTM.withLock({ $0 }), let done else { return -2 }
            let argBits = UInt(bitPattern: arg)
            let rc = tm.uac(method: CoreLink.text(method), ruri: CoreLink.text(ruri), dst: CoreLink.text(dst),
                            extra: CoreLink.text(extra), socket: CoreLink.text(socket), timeoutMS: timeout) { code in
                done(UnsafeMutableRawPointer(bitPattern: argBits), Int32(code))
            }
            return rc
        }
        t.pointee.t_request = { method, ruri, dst, extra, body, socket, timeout, types, fn, param in
            guard let tm = theTM.withLock({ $0 }), let fn else { return -2 }
            return tm.request(method, ruri, dst, extra, body, socket, timeout, Callback(types: types, fn: fn, param: param))
        }
        t.pointee.register_callback = { ctx, types, fn, param in
            guard let tm = theTM.withLock({ $0 }), let fn else { return -2 }
            guard let ctx else {
                guard types == TMCB.requestIn, !tm.serving.load(ordering: .acquiring) else { return -2 }
                tm.globalCallbacks.append(Callback(types: types, fn: fn, param: param))
                return 0
            }
            guard types & ~TMCB.perCell == 0, types != 0 else { return -2 }
            guard let c = tm.existingTxn(SYContext(ctx))?.cell else { return -1 }
            tm.table.withBucket(c.hashIndex) { c.callbacks.append(Callback(types: types, fn: fn, param: param)) }
            return 0
        }
        t.pointee.t_state = { ctx, out in
            guard let tm = theTM.withLock({ $0 }), let ctx, let out, let c = tm.existingTxn(SYContext(ctx))?.cell else { return -1 }
            tm.table.withBucket(c.hashIndex) {
                var s = sy_tm_state()
                s.hash_index = UInt32(c.hashIndex)
                s.label = c.label
                s.uas_status = Int32(c.uasStatus)
                s.branches = Int32(c.branches.count)
                s.was_cancelled = c.wasCancelled ? 1 : 0
                s.is_invite = c.isInvite ? 1 : 0
                out.pointee = s
            }
            return 0
        }
        return t
    }()
}
