// `$json(x) := $param(body)` without text: the core hands a tree event parameter (ABI 1.9 SY_VAL_OBJECT/SY_VAL_ARRAY,
// e.g. a FreeSWITCH event read in plain format) to the setter as is, and it becomes the document directly. A string
// assigned with `:=` is parsed from the core's bytes in place (no copy into a Swift string first).
import SwitchyardABI
import SwitchyardJSON
import SwitchyardPluginKit

extension JSONModule {
    /// The json plugin's raw setter: handles trees and `:=` strings; nil leaves the value to `set`.
    func setRaw(_ ctx: SYContext, _ path: JSONPath, _ op: AssignOp, _ raw: UnsafePointer<sy_value>) -> Bool? {
        let v = raw.pointee
        switch v.type {
        case Int32(SY_VAL_OBJECT.rawValue), Int32(SY_VAL_ARRAY.rawValue):
            let docs = documents(ctx)
            guard let steps = resolve(ctx, path) else { return false }
            guard let node = Self.node(v, depth: 1) else {
                host.log(.err, "$json(\(path.text)) := ...: the value nests deeper than \(Self.maxDepth) levels; the target is deleted")
                _ = store(nil, at: path, steps, in: docs, linking: false)
                return false
            }
            return store(node, at: path, steps, in: docs, linking: false)
        case Int32(SY_VAL_STR.rawValue) where op == .colonAssign:
            let docs = documents(ctx)
            guard let steps = resolve(ctx, path) else { return false }
            do {
                let parsed = try parser.parseNode(UnsafeBufferPointer(
                    start: UnsafeRawPointer(v.s.s)?.assumingMemoryBound(to: UInt8.self), count: v.s.len))
                if parsed.isNull {
                    // json-c parses "null" to a NULL object, which the module takes for a failure.
                    throw JSONParseError(kind: .syntax, message: "'null' is not a value that can be stored", offset: 0)
                }
                return store(parsed, at: path, steps, in: docs, linking: false)
            } catch {
                host.log(.err, "$json(\(path.text)) := ...: error parsing json: \(error); the target is deleted")
                _ = store(nil, at: path, steps, in: docs, linking: false)
                return false
            }
        default:
            return nil
        }
    }

    /// A C tree as a document (the core's copy lives only during the setter call). An object of strings only (a plain
    /// FreeSWITCH event without ARRAY:: headers) is copied as bytes into one buffer, each member decoded when read;
    /// anything else is decoded now.
    static func node(_ v: sy_value, depth: Int) -> JSONNode? {
        if v.type == Int32(SY_VAL_OBJECT.rawValue), let flat = flatStrings(v) { return .object(flat) }
        switch v.type {
        case Int32(SY_VAL_INT.rawValue):
            return .int(v.i)
        case Int32(SY_VAL_STR.rawValue):
            return .string(v.s.string)
        case Int32(SY_VAL_OBJECT.rawValue):
            guard depth <= maxDepth else { return nil }
            let members = UnsafeRawPointer(v.s.s)?.assumingMemoryBound(to: sy_member.self)
            var keys: [String] = []
            var values: [JSONNode] = []
            keys.reserveCapacity(v.s.len)
            values.reserveCapacity(v.s.len)
            for i in 0..<v.s.len {
                guard let value = node(members![i].value, depth: depth + 1) else { return nil }
                keys.append(members![i].key.string)
                values.append(value)
            }
            return .object(JSONObjectNode(keys: keys, values: values))
        case Int32(SY_VAL_ARRAY.rawValue):
            guard depth <= maxDepth else { return nil }
            let items = UnsafeRawPointer(v.s.s)?.assumingMemoryBound(to: sy_value.self)
            var out: [JSONNode] = []
            out.reserveCapacity(v.s.len)
            for i in 0..<v.s.len {
                guard let value = node(items![i], depth: depth + 1) else { return nil }
                out.append(value)
            }
            return .array(JSONArrayNode(out))
        default:
            return .null
        }
    }

    /// The object as a lazily decoded JSONObjectNode when every member is a string; nil otherwise.
    static func flatStrings(_ v: sy_value) -> JSONObjectNode? {
        guard let members = UnsafeRawPointer(v.s.s)?.assumingMemoryBound(to: sy_member.self) else { return nil }
        for i in 0..<v.s.len where members[i].value.type != Int32(SY_VAL_STR.rawValue) { return nil }
        return JSONObjectNode(strings: v.s.len) { i in (members[i].key.bytes, members[i].value.s.bytes) }
    }
}
