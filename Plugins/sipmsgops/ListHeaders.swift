// list_hdr_add_option / list_hdr_remove_option: edits of comma-separated headers (Supported, Require, Allow ...),
// as OpenSIPS's: options compared case-insensitively, the text around the others kept as written.
import SwitchyardPluginKit

extension SipMsgOps {
    /// The options of a list header value with their ranges, in order.
    static func listOptions(_ value: String) -> [Range<String.Index>] {
        var out: [Range<String.Index>] = []
        var i = value.startIndex
        while i < value.endIndex {
            let end = value[i...].firstIndex(of: ",") ?? value.endIndex
            var a = i, b = end
            while a < b, value[a] == " " || value[a] == "\t" { a = value.index(after: a) }
            while b > a, value[value.index(before: b)] == " " || value[value.index(before: b)] == "\t" { b = value.index(before: b) }
            if a < b { out.append(a..<b) }
            i = end < value.endIndex ? value.index(after: end) : end
        }
        return out
    }

    /// list_hdr_add_option(hdr, option): `,option` after the last option of the first such header (no check for a
    /// duplicate, as OpenSIPS). 1 done, -1 when there is no such header.
    func listHeaderAddOption(_ call: FunctionCall) -> Int32 {
        let name = call.string(0), option = call.string(1)
        // The first header lost all its options to list_hdr_remove_option: OpenSIPS rebuilds it as `Name: option`
        // (list_hdr_add_val on an emptied header), at its place. Added lines cannot be edited here: a further option
        // is one more such line there (the same list).
        if host.contextValue(call.context, SipMsgOps.emptiedKey(name)) != nil {
            return host.sipHeaderInsert(call.context, "\(name): \(option)", anchor: name, after: false) == 0 ? 1 : -1
        }
        guard let value = host.sipHeader(call.context, name) else { return -1 }
        let options = SipMsgOps.listOptions(value)
        var new = value
        if let last = options.last {
            new.insert(contentsOf: "," + option, at: last.upperBound)
        } else {
            new = option
        }
        return host.sipHeaderSet(call.context, name, new) ? 1 : -1
    }

    /// The per-message mark of a list header whose first occurrence list_hdr_remove_option emptied.
    static func emptiedKey(_ name: String) -> String { "sipmsgops.emptied." + name.lowercased() }

    /// list_hdr_remove_option(hdr, option): the first matching option of each such header is removed (with its
    /// separator); a header left without options is removed. 1 when one was removed, -1 otherwise.
    func listHeaderRemoveOption(_ call: FunctionCall) -> Int32 {
        let ctx = call.context, name = call.string(0), option = call.string(1)
        var values: [String] = []
        while let v = host.sipHeader(ctx, name, index: values.count) { values.append(v) }
        var changed: [Int: String?] = [:]
        for (n, value) in values.enumerated() {
            let options = SipMsgOps.listOptions(value)
            guard let k = options.firstIndex(where: { Text.equalFold(value[$0], option) }) else { continue }
            if options.count == 1 {
                changed[n] = .some(nil)
            } else if k + 1 < options.count {
                // Up to this option, then from the next one.
                changed[n] = String(value[..<options[k].lowerBound] + value[options[k + 1].lowerBound...])
            } else {
                // The last one: from the end of the previous option.
                changed[n] = String(value[..<options[k - 1].upperBound] + value[options[k].upperBound...])
            }
        }
        guard !changed.isEmpty else { return -1 }
        if case .some(.none) = changed[0] { host.contextValueSet(ctx, SipMsgOps.emptiedKey(name), "1") }
        if changed.keys.allSatisfy({ $0 == 0 }), let first = changed[0] {
            // Only the first header: edited in place.
            if let v = first { host.sipHeaderSet(ctx, name, v) } else { host.sipHeaderRemove(ctx, name) }
            return 1
        }
        // Several headers: all removed, the ones left put back (in order) where the first one was.
        for _ in values { host.sipHeaderRemove(ctx, name) }
        for (n, value) in values.enumerated() {
            let kept: String? = changed[n].map { $0 } ?? value
            guard let v = kept else { continue }
            if host.sipHeaderInsert(ctx, "\(name): \(v)", anchor: name, after: false) != 0 {
                _ = host.sipHeaderAdd(ctx, "\(name): \(v)", atTop: false)
            }
        }
        return 1
    }
}
