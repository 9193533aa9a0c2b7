/// `$ru_q`: the request-URI branch's q value in thousandths, -1 when unset (OpenSIPS's Q_UNSPECIFIED), null on a
/// reply. Written with an integer; a value over 1000 is stored as 1000 (with a warning), and NULL is refused
/// (pv_set_ru_q). @unchecked Sendable: it has no state; the message it reads and writes belongs to the calling
/// context (one thread).
final class RURIQPV: PVAccessor, @unchecked Sendable {
    static let max = 1000

    override var writable: Bool { true }
    override func get(_ ctx: ScriptContext) -> Value {
        if let m = ctx.message.sip, !m.isRequest { return .null }
        return .int(ctx.message.ruriQ ?? -1)
    }
    override func set(_ ctx: ScriptContext, _ op: AssignOp, _ value: Value) -> Bool {
        guard !value.isNull else {
            ctx.engine.log.error("$ru_q: bad parameters (NULL)")
            return false
        }
        guard let q = value.intForm else {
            ctx.engine.log.error("$ru_q: int value required to set r-uri queue value, got \(value.printed)")
            return false
        }
        if q > RURIQPV.max {
            ctx.engine.log.warning("$ru_q: queue value too big \(q) - setting queue to maximum value (\(RURIQPV.max))")
        }
        ctx.message.ruriQ = min(q, RURIQPV.max)
        return true
    }

    static let cls = PVClass(name: "ru_q", needsInner: false) { _, _ in RURIQPV() }
}
