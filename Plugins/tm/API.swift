// The tm API table other modules bind (switchyard_tm.h): t_uac, transaction callbacks, transaction state.
import SwitchyardABI
import SwitchyardPluginKit

enum TMAPI {
    /// The table of one tm instance: `module` is the engine, and the 1.1 entries reach it through that handle. The
    /// 1.0 entries (no handle) reach the engine of the latest start-up through `theTM` (HandlelessEntry), for
    /// consumers built against 1.0. Never freed: consumers keep the pointer.
    static func table(for tm: TM) -> UnsafeMutablePointer<sy_tm_api> {
        // Raw zeroed memory of the compile-time size, not allocate/initialize: a shorter sy_tm_api of an older
        // plugin in the process would make those generic calls short (see CTable).
        let t = CTable.zeroed(size: MemoryLayout<sy_tm_api>.stride, alignment: MemoryLayout<sy_tm_api>.alignment)
            .assumingMemoryBound(to: sy_tm_api.self)
        t.pointee.header = sy_table_header(abi_major: UInt32(SY_TM_MAJOR), abi_minor: UInt32(SY_TM_MINOR),
                                           struct_size: UInt32(MemoryLayout<sy_tm_api>.size), reserved: 0)
        t.pointee.module = OpaquePointer(Unmanaged.passUnretained(tm).toOpaque()) // the engine lives as long as the process
        t.pointee.t_uac = { method, ruri, dst, extra, socket, timeout, done, arg in
            TMAPI.uac(theTM.instance, method, ruri, dst, extra, socket, timeout, done, arg)
        }
        t.pointee.t_request = { method, ruri, dst, extra, body, socket, timeout, types, fn, param in
            TMAPI.request(theTM.instance, method, ruri, dst, extra, body, socket, timeout, types, fn, param)
        }
        t.pointee.module_t_request = { m, method, ruri, dst, extra, body, socket, timeout, types, fn, param in
            TMAPI.request(TMAPI.instance(m), method, ruri, dst, extra, body, socket, timeout, types, fn, param)
        }
        t.pointee.register_callback = { ctx, types, fn, param in TMAPI.register(theTM.instance, ctx, types, fn, param) }
        t.pointee.t_state = { ctx, out in TMAPI.state(theTM.instance, ctx, out) }
        t.pointee.module_t_uac = { m, method, ruri, dst, extra, socket, timeout, done, arg in
            TMAPI.uac(TMAPI.instance(m), method, ruri, dst, extra, socket, timeout, done, arg)
        }
        t.pointee.module_register_callback = { m, ctx, types, fn, param in TMAPI.register(TMAPI.instance(m), ctx, types, fn, param) }
        t.pointee.module_t_state = { m, ctx, out in TMAPI.state(TMAPI.instance(m), ctx, out) }
        t.pointee.module_t_reply = { m, ctx, code, reason in TMAPI.reply(TMAPI.instance(m), ctx, code, reason) }
        t.pointee.module_fr_timeout = { m in UInt32(clamping: (TMAPI.instance(m)?.cfg.frTimeout ?? 0) * 1000) }
        return t
    }

    static func instance(_ m: OpaquePointer?) -> TM? {
        m.map { Unmanaged<TM>.fromOpaque(UnsafeRawPointer($0)).takeUnretainedValue() }
    }

    static func uac(_ tm: TM?, _ method: sy_str, _ ruri: sy_str, _ dst: sy_str, _ extra: sy_str, _ socket: sy_str,
                    _ timeout: UInt32, _ done: (@convention(c) (UnsafeMutableRawPointer?, Int32) -> Void)?,
                    _ arg: UnsafeMutableRawPointer?) -> Int32 {
        guard let tm, let done else { return -2 }
        let argBits = UInt(bitPattern: arg)
        let rc = tm.uac(method: CoreLink.text(method), ruri: CoreLink.text(ruri), dst: CoreLink.text(dst),
                        extra: CoreLink.text(extra), socket: CoreLink.text(socket), timeoutMS: timeout) { code in
            done(UnsafeMutableRawPointer(bitPattern: argBits), Int32(code))
        }
        return rc
    }

    static func request(_ tm: TM?, _ method: sy_str, _ ruri: sy_str, _ dst: sy_str, _ extra: sy_str, _ body: sy_str,
                        _ socket: sy_str, _ timeout: UInt32, _ types: UInt32, _ fn: sy_tm_cb?,
                        _ param: UnsafeMutableRawPointer?) -> Int32 {
        guard let tm, let fn else { return -2 }
        return tm.request(method, ruri, dst, extra, body, socket, timeout, Callback(types: types, fn: fn, param: param))
    }

    static func register(_ tm: TM?, _ ctx: OpaquePointer?, _ types: UInt32, _ fn: sy_tm_cb?,
                         _ param: UnsafeMutableRawPointer?) -> Int32 {
        guard let tm, let fn else { return -2 }
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

    /// t_reply on an existing transaction only (the caller chose the stateful path because there is one).
    static func reply(_ tm: TM?, _ ctx: OpaquePointer?, _ code: Int32, _ reason: sy_str) -> Int32 {
        guard let tm, let ctx, tm.existingTxn(SYContext(ctx))?.cell != nil else { return -1 }
        return tm.tReply(SYContext(ctx), code: Int(code), reason: CoreLink.text(reason)) > 0 ? 1 : -1
    }

    static func state(_ tm: TM?, _ ctx: OpaquePointer?, _ out: UnsafeMutablePointer<sy_tm_state>?) -> Int32 {
        guard let tm, let ctx, let out, let c = tm.existingTxn(SYContext(ctx))?.cell else { return -1 }
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
}
