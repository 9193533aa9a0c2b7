/// Built-in calls that need their own fixup: xlog, log, fetch_event_params, flags, raise_event.

final class XlogNode: CallNode, @unchecked Sendable {
    enum Level { case fixed(Int), dynamic(ResolvedPV) }
    let level: Level
    let format: FormatString
    init(level: Level, format: FormatString, _ loc: SourceLocation) {
        self.level = level
        self.format = format
        super.init(loc)
    }
    override func invoke(_ ctx: ScriptContext) -> Int {
        let lvl: Int
        switch level {
        case .fixed(let l): lvl = l
        case .dynamic(let pv):
            let v = pv.get(ctx)
            lvl = v.intForm ?? v.stringForm.flatMap(LogLevels.parseXlogLevel) ?? LogLevels.error
        }
        let log = ctx.engine.log
        if log.xlogEnabled(lvl) { log.xlog(lvl, format.render(ctx)) }
        return 1
    }
}

final class PlainLogNode: CallNode, @unchecked Sendable {
    let level: Int
    let text: String
    init(level: Int, text: String, _ loc: SourceLocation) {
        self.level = level
        self.text = text
        super.init(loc)
    }
    override func invoke(_ ctx: ScriptContext) -> Int {
        // The text is printed as written; the log line's own break replaces a trailing "\n".
        ctx.engine.log.write(level, module: "script", text.hasSuffix("\n") ? String(text.dropLast()) : text)
        return 1
    }
}

/// 2.4's way to read event parameters: fetch_event_params("name=$avp(x);$avp(y)").
final class FetchEventParamsNode: CallNode, @unchecked Sendable {
    enum Item { case named(String, ResolvedPV), positional(ResolvedPV) }
    let items: [Item]
    init(items: [Item], _ loc: SourceLocation) {
        self.items = items
        super.init(loc)
    }
    override func invoke(_ ctx: ScriptContext) -> Int {
        guard ctx.eventName != nil else {
            ctx.engine.log.error("\(location): fetch_event_params() used outside an event_route")
            return -1
        }
        var position = 0
        for item in items {
            switch item {
            case .named(let name, let pv):
                let v = ctx.eventParamIndex(name).map { ctx.eventParam(at: $0) } ?? .null
                pv.set(ctx, .assign, v)
            case .positional(let pv):
                let v = ctx.eventParam(at: position)
                pv.set(ctx, .assign, v)
            }
            position += 1
        }
        return 1
    }
}

final class FlagNode: CallNode, @unchecked Sendable {
    enum Op { case set, reset, test }
    let op: Op
    let bit: UInt64
    init(op: Op, slot: Int, _ loc: SourceLocation) {
        self.op = op
        self.bit = 1 << UInt64(slot)
        super.init(loc)
    }
    override func invoke(_ ctx: ScriptContext) -> Int {
        switch op {
        case .set: ctx.flags |= bit; return 1
        case .reset: ctx.flags &= ~bit; return 1
        case .test: return ctx.flags & bit != 0 ? 1 : -1
        }
    }
}

/// raise_event("E_NAME"[, $avp(names)][, $avp(values)]): queued to event_route workers.
final class RaiseEventNode: CallNode, @unchecked Sendable {
    let name: FormatString
    let names: ResolvedPV?
    let values: ResolvedPV?
    init(name: FormatString, names: ResolvedPV?, values: ResolvedPV?, _ loc: SourceLocation) {
        self.name = name
        self.names = names
        self.values = values
        super.init(loc)
    }
    override func invoke(_ ctx: ScriptContext) -> Int {
        let event = name.render(ctx)
        let vals = values.map { Array($0.values(ctx).reversed()) } ?? []
        let keys = names.map { Array($0.values(ctx).reversed()) } ?? []
        if names != nil, values != nil, keys.count != vals.count {
            ctx.engine.log.error("\(location): raise_event(\"\(event)\"): \(keys.count) names but \(vals.count) values")
            return -1
        }
        var params: [(name: String, value: Value)] = []
        for (i, v) in vals.enumerated() {
            params.append((name: i < keys.count ? (keys[i].stringForm ?? "") : "", value: v))
        }
        return ctx.engine.raiseEvent(event, params) >= 0 ? 1 : -1
    }
}
