/// `$hdr_name`: the names of the message's headers in order, as written; `$(hdr_name[n])` the n-th (negative from
/// the last), `[*]` all of them. @unchecked Sendable: it has no state (it only reads the calling context's message).
final class HeaderNamePV: PVAccessor, @unchecked Sendable {
    override var supportsIndex: Bool { true }
    override func get(_ ctx: ScriptContext) -> Value { get(ctx, index: 0) }
    override func get(_ ctx: ScriptContext, index: Int) -> Value {
        guard let m = ctx.message.sip else { return .null }
        let i = index >= 0 ? index : m.fields.count + index
        return i >= 0 && i < m.fields.count ? .str(m.name(of: m.fields[i])) : .null
    }
    override func all(_ ctx: ScriptContext) -> [Value] {
        guard let m = ctx.message.sip else { return [] }
        return m.fields.map { .str(m.name(of: $0)) }
    }

    static let cls = PVClass(name: "hdr_name", needsInner: false) { _, _ in HeaderNamePV() }
}
