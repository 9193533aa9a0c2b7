// Commands: the sy_cachedb_api table published as "cachedb:redis" — each cache operation as Redis commands.
//
//   store   SET key value [EX expire]            (one command: the value and its expiry are set together); a negative
//           expire is SET then EXPIRE, as OpenSIPS: Redis deletes the key
//   insert  SET key value NX [EX expire]         (atomic insert-if-absent across every proxy sharing the Redis)
//   fetch   GET key                              remove  DEL key
//   add     INCRBY then, when expire ≠ 0, EXPIRE, in one script (atomic): every call re-arms the expiry, as OpenSIPS's
//           Redis backend does (cache_local keeps the first expiry instead)
//   counter_fetch  GET key, parsed as an integer
//   raw_query      the text split into words, sent as is (raw_query_typed: the same, values typed)
import SwitchyardABI
import SwitchyardPluginKit

/// A table, built once per module instance, never freed; its `module` is set by the instance (RedisModule.init).
func makeRedisTable() -> UnsafePointer<sy_cachedb_api> {
    var api = sy_cachedb_api()
    api.header = sy_table_header(abi_major: UInt32(SY_CACHEDB_MAJOR), abi_minor: UInt32(SY_CACHEDB_MINOR),
                                 struct_size: UInt32(MemoryLayout<sy_cachedb_api>.stride), reserved: 0)
    api.module_open = { m, group, err, errlen in
        redisOpen(m.map { Unmanaged<RedisModule>.fromOpaque(UnsafeRawPointer($0)).takeUnretainedValue() }, group, err, errlen)
    }
    api.open = { group, err, errlen in redisOpen(handlelessOpen.instance, group, err, errlen) }
    api.store = { c, key, value, expire in
        var argv = [bytes("SET"), key.array, value.array]
        if expire > 0 { argv += [bytes("EX"), bytes(String(expire))] }
        let rc = status(run(c, argv)) { r in r == .status("OK") ? SY_CACHEDB_OK : SY_CACHEDB_ERROR }
        // SET refuses a negative EX; OpenSIPS sends EXPIRE for any expire ≠ 0, and a negative one deletes the key.
        guard expire < 0, rc == SY_CACHEDB_OK.rawValue else { return rc }
        return status(run(c, [bytes("EXPIRE"), key.array, bytes(String(expire))])) { r in
            if case .integer = r { return SY_CACHEDB_OK }
            return SY_CACHEDB_ERROR
        }
    }
    api.insert = { c, key, value, expire in
        var argv = [bytes("SET"), key.array, value.array, bytes("NX")]
        if expire > 0 { argv += [bytes("EX"), bytes(String(expire))] }
        return status(run(c, argv)) { r in
            switch r {
            case .status("OK"): return SY_CACHEDB_OK
            case .nil_: return SY_CACHEDB_EXISTS
            default: return SY_CACHEDB_ERROR
            }
        }
    }
    api.fetch = { c, key, sink, arg in
        status(run(c, [bytes("GET"), key.array])) { r in
            switch r {
            case .string(let v):
                v.withUnsafeBufferPointer { b in
                    sink?(arg, UnsafeRawPointer(b.baseAddress)?.assumingMemoryBound(to: CChar.self), b.count)
                }
                return SY_CACHEDB_OK
            case .integer(let n):
                let t = Array(String(n).utf8)
                t.withUnsafeBufferPointer { b in
                    sink?(arg, UnsafeRawPointer(b.baseAddress)?.assumingMemoryBound(to: CChar.self), b.count)
                }
                return SY_CACHEDB_OK
            case .nil_: return SY_CACHEDB_NOT_FOUND
            default: return SY_CACHEDB_ERROR
            }
        }
    }
    api.remove = { c, key in
        status(run(c, [bytes("DEL"), key.array])) { r in
            if case .integer = r { return SY_CACHEDB_OK }
            return SY_CACHEDB_ERROR
        }
    }
    api.add = { c, key, delta, expire, newValue in
        status(run(c, [bytes("EVAL"), bytes(addScript), bytes("1"), key.array, bytes(String(delta)), bytes(String(expire))])) { r in
            switch r {
            case .integer(let n):
                newValue?.pointee = n
                return SY_CACHEDB_OK
            case .error(let e) where e.contains("not an integer"): return SY_CACHEDB_NOT_INT
            default: return SY_CACHEDB_ERROR
            }
        }
    }
    api.counter_fetch = { c, key, value in
        status(run(c, [bytes("GET"), key.array])) { r in
            switch r {
            case .string(let v):
                guard let n = Int64(String(decoding: v, as: UTF8.self)) else {
                    return v.isEmpty ? SY_CACHEDB_NOT_FOUND : SY_CACHEDB_NOT_INT
                }
                value?.pointee = n
                return SY_CACHEDB_OK
            case .nil_: return SY_CACHEDB_NOT_FOUND
            default: return SY_CACHEDB_ERROR
            }
        }
    }
    api.raw_query = { c, query, sink, arg in
        rawQuery(c, query) { v in
            switch v {
            case .string(let s): withBytes(s) { sink?(arg, $0, $1) }
            case .integer(let n): withBytes(Array(String(n).utf8)) { sink?(arg, $0, $1) }
            default: sink?(arg, nil, 0)
            }
        }
    }
    api.raw_query_typed = { c, query, sink, arg in
        rawQuery(c, query) { v in
            switch v {
            case .string(let s): withBytes(s) { sink?(arg, Int32(SY_CACHEDB_VAL_STR.rawValue), $0, $1, 0) }
            case .integer(let n): withBytes(Array(String(n).utf8)) { sink?(arg, Int32(SY_CACHEDB_VAL_INT.rawValue), $0, $1, n) }
            default: sink?(arg, Int32(SY_CACHEDB_VAL_NULL.rawValue), nil, 0, 0)
            }
        }
    }
    // Not allocate/initialize: a shorter sy_cachedb_api of an older plugin in the process would cut the copy (CTable).
    return CTable.keep(&api, size: MemoryLayout<sy_cachedb_api>.stride, alignment: MemoryLayout<sy_cachedb_api>.alignment)
        .assumingMemoryBound(to: sy_cachedb_api.self)
}

/// A raw query: the text split into words and sent; `emit` gets each string, integer or nil value of the reply (an
/// array's elements in order, nested arrays skipped). Status replies emit nothing.
private func rawQuery(_ c: OpaquePointer?, _ query: sy_str, emit: (RedisReply) -> Void) -> Int32 {
    guard let words = splitWords(query.array) else {
        pool(c)?.log(.err, "cache_raw_query: malformed query (an unclosed quote, or a closing quote not followed by a blank)")
        return SY_CACHEDB_ERROR.rawValue
    }
    guard !words.isEmpty else { return SY_CACHEDB_ERROR.rawValue }
    return status(run(c, words, raw: true)) { r in
        func one(_ v: RedisReply) {
            switch v {
            case .string, .integer, .nil_: emit(v)
            default: break
            }
        }
        switch r {
        case .string, .integer: one(r); return SY_CACHEDB_OK
        case .array(let items): items.forEach(one); return SY_CACHEDB_OK
        case .status: return SY_CACHEDB_OK
        case .nil_: return SY_CACHEDB_NOT_FOUND
        case .error: return SY_CACHEDB_ERROR
        }
    }
}

/// Calls body with a pointer to the bytes (NULL when empty is fine: the length says 0) and their count.
private func withBytes(_ b: [UInt8], _ body: (UnsafePointer<CChar>?, Int) -> Void) {
    b.withUnsafeBufferPointer { p in body(UnsafeRawPointer(p.baseAddress)?.assumingMemoryBound(to: CChar.self), p.count) }
}

/// INCRBY, then EXPIRE when an expiry is given (≠ 0; a negative one deletes the key): OpenSIPS's two commands, run
/// as one script so no caller sees the counter without its TTL.
private let addScript = """
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
if tonumber(ARGV[2]) ~= 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return v
"""

private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

extension sy_str {
    var array: [UInt8] {
        guard len > 0, let s else { return [] }
        return Array(UnsafeRawBufferPointer(start: s, count: len))
    }
}

/// The pool behind a connection handle (a retained RedisPool, never released: handles live until the server stops).
private func pool(_ c: OpaquePointer?) -> RedisPool? {
    c.map { Unmanaged<RedisPool>.fromOpaque(UnsafeRawPointer($0)).takeUnretainedValue() }
}

/// Runs a command; an error reply (WRONGTYPE, not an integer, NOAUTH...) is logged once here, naming the command, so
/// a script's -1 always has a line saying why (a lost connection is logged by the pool). For a raw query only the
/// error's code (its first word) is logged: Redis echoes the arguments of an unknown command in the text.
private func run(_ c: OpaquePointer?, _ argv: [[UInt8]], raw: Bool = false) -> RedisReply? {
    guard let p = pool(c) else { return nil }
    let reply = p.run(argv)
    if case .error(let e)? = reply {
        let cmd = String(decoding: argv.first ?? [], as: UTF8.self)
        let text = raw ? String(e.prefix { $0 != " " }) : e
        p.log(.err, "\(p.url.masked): \(cmd == "EVAL" ? "INCRBY" : cmd) failed: Redis answered: \(text)")
    }
    return reply
}

private func status(_ reply: RedisReply?, _ map: (RedisReply) -> sy_cachedb_result) -> Int32 {
    guard let reply else { return SY_CACHEDB_ERROR.rawValue }
    return map(reply).rawValue
}

private func redisOpen(_ module: RedisModule?, _ group: UnsafePointer<CChar>?, _ err: UnsafeMutablePointer<CChar>?,
                       _ errlen: Int) -> OpaquePointer? {
    func fail(_ text: String) -> OpaquePointer? {
        if let err, errlen > 0 {
            let b = Array(text.utf8.prefix(errlen - 1))
            for (i, c) in b.enumerated() { err[i] = CChar(bitPattern: c) }
            err[b.count] = 0
        }
        return nil
    }
    guard let module else { return fail("cachedb_redis is not loaded") }
    switch module.open(group: group.map { String(cString: $0) }) {
    case .success(let pool): return OpaquePointer(Unmanaged.passRetained(pool).toOpaque())
    case .failure(let e): return fail(e.message)
    }
}

/// Words of a raw query: split at blanks; '...' or "..." group a word (quotes not sent). nil on an unclosed quote or
/// a closing quote not followed by a blank.
func splitWords(_ text: [UInt8]) -> [[UInt8]]? {
    var words: [[UInt8]] = []
    var i = 0
    while i < text.count {
        while i < text.count, text[i] == 32 || text[i] == 9 || text[i] == 10 || text[i] == 13 { i += 1 }
        guard i < text.count else { break }
        var word: [UInt8] = []
        if text[i] == UInt8(ascii: "'") || text[i] == UInt8(ascii: "\"") {
            let q = text[i]
            i += 1
            guard let end = text[i...].firstIndex(of: q) else { return nil }
            word = Array(text[i..<end])
            i = end + 1
            // As OpenSIPS: a closing quote is followed by a blank or the end ("a"b is malformed).
            if i < text.count, !(text[i] == 32 || text[i] == 9 || text[i] == 10 || text[i] == 13) { return nil }
        } else {
            while i < text.count, !(text[i] == 32 || text[i] == 9 || text[i] == 10 || text[i] == 13) { word.append(text[i]); i += 1 }
        }
        words.append(word)
    }
    return words
}
