// libFuzzer entry point for the MI FIFO request framing (Plugins/mi_fifo/FifoFramer.swift): the input arrives in
// chunks (split where its first bytes say), frames are taken after each chunk and once more when the writer goes
// idle. Never traps; a frame never claims bytes that were not fed; after the idle pass nothing stays half-framed
// unless an oversized request is still being skipped. Built with SwitchyardJSON as a module (see Fuzz/build.sh).
import SwitchyardJSON

@inline(never)
private func fail(_ what: String) -> Never {
    fatalError("FIFO framing invariant violated: \(what)")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    var framer = FifoFramer(limit: 2048)
    var cuts: [Int] = []
    if size >= 2 { cuts = [Int(bytes[0]) % size, Int(bytes[1]) % size].sorted() }
    var start = 0
    var framedBytes = 0
    for end in cuts + [size] where end >= start {
        framer.feed(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
        start = end
        while let f = framer.next(idle: false) {
            if case .request(_, let json) = f { framedBytes += json.count }
        }
    }
    while let f = framer.next(idle: true) {
        if case .request(_, let json) = f { framedBytes += json.count }
    }
    if framedBytes > size { fail("frames hold \(framedBytes) bytes of \(size) fed") }
    if framer.hasPartial && !framer.discarding { fail("a partial request is left after the idle pass") }
    return 0
}
