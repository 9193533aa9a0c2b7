// The OpenSIPS `maxfwd` module as a Switchyard plugin: Max-Forwards checking.
//
//   modparam("maxfwd", "max_limit", 256)
//   mf_process_maxfwd_header(max_value)   is_maxfwd_lt(limit)
#if canImport(Glibc)
import Glibc
#endif
import SwitchyardABI
import SwitchyardPluginKit
import Synchronization

@_cdecl("switchyard_plugin_entry")
public func switchyardPluginEntry(_ raw: UnsafePointer<sy_host_api>?) -> UnsafePointer<sy_module_exports>? {
    guard let host = PluginHost(raw, module: "maxfwd") else { return nil }
    guard host.provides(\.sip_header_get) else {
        host.log(.err, "this core has no SIP support (needs ABI 1.4)")
        return nil
    }
    return MaxFwdModule(host: host).build().pointer // allocated once, never freed
}

final class MaxFwdModule: Sendable {
    let host: PluginHost
    /// OpenSIPS's default and upper bound (MAXFWD_UPPER_LIMIT); a received value is at most 255 (RFC 3261 20.22).
    static let upperLimit = 256
    let maxLimit = Atomic<Int>(MaxFwdModule.upperLimit)
    init(host: PluginHost) { self.host = host }

    func build() -> ModuleExports {
        var m = ModuleExportsBuilder(host: host, name: "maxfwd", version: "1.0.0", description: "Max-Forwards processing")
        m.param("max_limit", .int) { [self] v in
            guard let n = v.intValue, (1...Int64(MaxFwdModule.upperLimit)).contains(n) else {
                throw PluginError("invalid max limit (\(v.intValue.map(String.init) ?? "?")) [1,\(MaxFwdModule.upperLimit)]")
            }
            maxLimit.store(Int(n), ordering: .relaxed)
        }
        m.function("mf_process_maxfwd_header", params: [.int], routes: [.request, .failure, .branch],
                   fixup: checkValue) { [self] call in
            process(call)
        }
        m.function("is_maxfwd_lt", params: [.int], routes: [.request, .failure, .branch], fixup: checkValue) { [self] call in
            let limit = Int(call.int(0))
            guard let text = host.sipHeader(call.context, "Max-Forwards") else { return -2 }
            guard let v = MaxFwdModule.strict(text) else { return -3 }
            return v < limit ? 1 : -1
        }
        return m.build()
    }

    /// A literal value must be 1..256 and not above max_limit (startup error, as OpenSIPS's fixup; modparams are
    /// applied before fixups run).
    var checkValue: FunctionFixupCheck {
        { [self] args in
            guard let n = args[0].constantInt else { return }
            let limit = maxLimit.load(ordering: .relaxed)
            if n < 1 || n > Int64(MaxFwdModule.upperLimit) {
                throw FixupError(argument: 0, "invalid MAXFWD number <\(n)> [1,\(MaxFwdModule.upperLimit)]")
            }
            if n > Int64(limit) {
                throw FixupError(argument: 0, "default value <\(n)> bigger than max limit(\(limit))")
            }
        }
    }

    /// The received Max-Forwards value; nil if absent or unreadable.
    func current(_ ctx: SYContext) -> Int? {
        guard let text = host.sipHeader(ctx, "Max-Forwards") else { return nil }
        return MaxFwdModule.strict(text)
    }

    /// The value as OpenSIPS reads it (str2s): 1 to 5 ASCII digits, spaces around; nil for `+70`, `-1`, `123456`.
    static func strict(_ text: String) -> Int? {
        var t = text
        return t.withUTF8 { decimal(UnsafeRawBufferPointer($0)) }
    }

    /// 2: header added; 1: decremented; -1: it was 0 (answer 483); -2: error.
    func process(_ call: FunctionCall) -> Int32 {
        let ctx = call.context
        let given = Int(call.int(0))
        guard (1...MaxFwdModule.upperLimit).contains(given) else {
            host.log(.err, "mf_process_maxfwd_header: invalid MAXFWD number <\(given)> [1,\(MaxFwdModule.upperLimit)]")
            return -2
        }
        // The usual case, a plain decimal value, is read and written as bytes; anything else takes the string path.
        if case .some(.some(let found)) = host.withSIPHeader(ctx, "Max-Forwards", { MaxFwdModule.digits($0) }) {
            var v = found.value
            if v == 0 { return -1 }
            let limit = maxLimit.load(ordering: .relaxed)
            if v > limit { v = limit + 1 }
            setDecimal(ctx, v - 1, width: found.width)
            return 1
        }
        guard let text = host.sipHeader(ctx, "Max-Forwards") else {
            guard host.sipHasMessage(ctx) else { return -2 }
            // First among the headers, where OpenSIPS inserts it.
            return host.sipHeaderAdd(ctx, "Max-Forwards: \(given)", atTop: true) ? 2 : -2
        }
        guard var v = MaxFwdModule.strict(text) else {
            host.log(.err, "mf_process_maxfwd_header: bad Max-Forwards value '\(text)'")
            return -2
        }
        if v == 0 { return -1 }
        let limit = maxLimit.load(ordering: .relaxed)
        if v > limit { v = limit + 1 }  // as OpenSIPS: the value sent on is then max_limit
        let width = text.trimmingSpaces().utf8.count
        let digits = String(v - 1)
        host.sipHeaderSet(ctx, "Max-Forwards", String(repeating: " ", count: max(0, width - digits.count)) + digits)
        return 1
    }

    /// A value of 1 to 5 ASCII digits with optional spaces or tabs around it; nil for anything else (a sign, more
    /// digits), which the caller answers as OpenSIPS does for what str2s rejects.
    static func decimal(_ b: UnsafeRawBufferPointer) -> Int? { digits(b)?.value }

    /// The value and the number of characters it was written with (spaces around not counted).
    static func digits(_ b: UnsafeRawBufferPointer) -> (value: Int, width: Int)? {
        var lo = 0, hi = b.count
        while lo < hi, b[lo] == 32 || b[lo] == 9 { lo += 1 }
        while hi > lo, b[hi - 1] == 32 || b[hi - 1] == 9 { hi -= 1 }
        guard hi > lo, hi - lo <= 5 else { return nil }
        var n = 0
        for i in lo..<hi {
            let c = b[i]
            guard c >= 48, c <= 57 else { return nil }
            n = n * 10 + Int(c - 48)
        }
        return (n, hi - lo)
    }

    /// Sets Max-Forwards to `n` (0...256), written on the stack in the `width` characters the received value took,
    /// right-aligned with spaces before it, as OpenSIPS rewrites it in place ("10" becomes " 9").
    func setDecimal(_ ctx: SYContext, _ n: Int, width: Int) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 5) { buf in
            var digits = 0, rest = n
            repeat { digits += 1; rest /= 10 } while rest > 0
            let total = max(digits, min(width, 5))
            rest = n
            for i in stride(from: total - 1, through: 0, by: -1) {
                if i >= total - digits { buf[i] = UInt8(48 + rest % 10); rest /= 10 } else { buf[i] = 32 }
            }
            host.sipHeaderSet(ctx, "Max-Forwards", bytes: UnsafeBufferPointer(rebasing: buf[0..<total]))
        }
    }
}
