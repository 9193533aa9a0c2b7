// Probes through tm (OpenSIPS's way): when tm is loaded its API table is bound at init and every probe is a local
// client transaction of tm — retransmitted over UDP, ended by tm's fr_timeout with a 408, counted in tm's UAC
// statistics, and run through the script's local_route. Without tm the core's stateless sip_request is used.
import SwitchyardABI
import SwitchyardPluginKit

/// The bound tm API table (1.1: module_t_uac).
struct TMBinding: @unchecked Sendable {
    // The table is published by tm for the life of the process and never written after; only read here.
    let api: UnsafePointer<sy_tm_api>

    /// Binds tm's table when tm is loaded; nil otherwise (the stateless path).
    static func bind(_ host: PluginHost) -> TMBinding? {
        let minSize = UInt32(MemoryLayout<sy_tm_api>.offset(of: \sy_tm_api.module_t_uac)! + MemoryLayout<OpaquePointer>.size)
        guard let raw = try? host.apiBind(SY_TM_API_NAME, major: UInt32(SY_TM_MAJOR), minSize: minSize) else { return nil }
        let api = raw.assumingMemoryBound(to: sy_tm_api.self)
        guard api.pointee.header.abi_minor >= 1, api.pointee.module_t_uac != nil else { return nil }
        return TMBinding(api: api)
    }

    /// tm's fr_timeout in ms (1.3's module_fr_timeout); an older tm: OpenSIPS's default, 30 s.
    var frTimeoutMS: UInt32 {
        let h = api.pointee.header
        let size13 = MemoryLayout<sy_tm_api>.offset(of: \sy_tm_api.module_fr_timeout)! + MemoryLayout<OpaquePointer>.size
        guard h.abi_minor >= 3, Int(h.struct_size) >= size13, let f = api.pointee.module_fr_timeout else { return 30_000 }
        return f(api.pointee.module)
    }

    /// tm's t_uac with `done` (exactly once when this returns 0; maybe before it returns). timeout 0: fr_timeout.
    /// Returns 0 queued, -2 bad arguments, -3 not one of our sockets.
    func uac(method: String, ruri: String, headers: String, socket: String, done: @escaping @Sendable (Int) -> Void) -> Int32 {
        let box = Unmanaged.passRetained(DoneBox(done))
        let rc: Int32 = method.withSyStr { m in ruri.withSyStr { r in headers.withSyStr { h in socket.withSyStr { s in
            api.pointee.module_t_uac!(api.pointee.module, m, r, sy_str(s: nil, len: 0), h, s, 0, { arg, code in
                Unmanaged<DoneBox>.fromOpaque(arg!).takeRetainedValue().done(Int(code))
            }, box.toOpaque())
        } } } }
        if rc != 0 { box.release() } // done is not called then
        return rc
    }
}

/// The probe's completion, carried through tm's void* argument.
final class DoneBox: Sendable {
    let done: @Sendable (Int) -> Void
    init(_ done: @escaping @Sendable (Int) -> Void) { self.done = done }
}

extension String {
    /// The string as a sy_str for the duration of `body`.
    func withSyStr<R>(_ body: (sy_str) -> R) -> R {
        var copy = self
        return copy.withUTF8 { b in
            b.withMemoryRebound(to: CChar.self) { body(sy_str(s: $0.baseAddress, len: $0.count)) }
        }
    }
}
