/// HMAC (RFC 2104) over the digests the `s.` class already has, for `{s.sha1_hmac,key}` ... `{s.sha512_hmac,key}`.
/// The result is printed as lowercase hex, as the plain `{s.sha*}` transformations print theirs.
enum HMAC {
    /// The hash and its block size in bytes (64 for SHA-1/224/256, 128 for SHA-384/512).
    static func of(_ op: String) -> (hash: @Sendable ([UInt8]) -> [UInt8], block: Int)? {
        switch op {
        case "sha1_hmac": return (Digests.sha1, 64)
        case "sha224_hmac": return (Digests.sha224, 64)
        case "sha256_hmac": return ({ Digests.sha256($0) }, 64)
        case "sha384_hmac": return (SHA512.sha384, 128)
        case "sha512_hmac": return (SHA512.sha512, 128)
        default: return nil
        }
    }

    static func mac(_ message: [UInt8], key: [UInt8], hash: ([UInt8]) -> [UInt8], block: Int) -> [UInt8] {
        var k = key.count > block ? hash(key) : key
        k += [UInt8](repeating: 0, count: block - k.count)
        let inner = hash(k.map { $0 ^ 0x36 } + message)
        return hash(k.map { $0 ^ 0x5c } + inner)
    }
}

extension HMAC {
    /// `{s.<hash>_hmac,key}`: the key is a literal or a variable read at run time (a variable that does not read as
    /// text, or reads as "", fails the transformation); without a key the script does not start. There is no md5_hmac.
    static func transform(_ op: String, _ params: [TParam]) throws(PVResolveError) -> Transform? {
        guard let (hash, block) = of(op) else { return nil }
        guard let key = params.first else { throw PVResolveError("transformation s.\(op) needs a key: {s.\(op),key}") }
        return Transform(name: op) { v, ctx in
            let k: [UInt8]
            switch key {
            case .literal(let s): k = Array(s.utf8)
            case .pv(let p):
                guard let s = p.get(ctx).stringForm, !s.isEmpty else { return nil }
                k = Array(s.utf8)
            }
            return .str(Digests.hex(mac(Array((v.stringForm ?? "").utf8), key: k, hash: hash, block: block)))
        }
    }
}
