#if canImport(Glibc)
import Glibc
#endif

/// One reusable buffer per thread for the messages the core builds: forward() and the reply relay, which hand the
/// bytes to a transport (it copies them into its send batch, or the kernel's), sl_send_reply's stateless replies,
/// and tm's branch requests, ACKs, relayed replies and local replies (copied once into the context's bytesKeeper).
/// A buffer made and freed for every message was an allocation and a free per message.
///
/// The buffer is taken out of the thread's box while in use and put back after, so a nested use on the same thread
/// gets a new empty one instead of sharing it. That guarantee must stay: a send made inside `with` may reach code
/// that builds another message on the same thread, which would otherwise overwrite the bytes being sent.
final class OutputBuffers: Sendable {
    private let key: pthread_key_t
    /// False when no thread key could be made (the process limit): every use then gets a fresh buffer, since key 0
    /// would belong to some other library.
    private let hasKey: Bool
    /// A buffer grown past this is not kept (one unusually large message must not pin its size on a worker).
    static let keptCapacity = 16 * 1024

    private final class Box {
        var writer = ByteWriter()
        deinit { writer.release() }
    }

    init() {
        var k = pthread_key_t()
        // A thread's box is released when the thread ends.
        hasKey = pthread_key_create(&k) { p in
            if let p { Unmanaged<AnyObject>.fromOpaque(p).release() }
        } == 0
        key = k
    }

    deinit { if hasKey { pthread_key_delete(key) } }

    /// Runs `body` with this thread's buffer (empty, its capacity kept from earlier messages).
    func with<R>(_ body: (inout ByteWriter) -> R) -> R {
        guard hasKey else {
            var fresh = ByteWriter()
            defer { fresh.release() }
            return body(&fresh)
        }
        let box: Box
        if let p = pthread_getspecific(key) {
            box = Unmanaged<Box>.fromOpaque(p).takeUnretainedValue()
        } else {
            box = Box()
            pthread_setspecific(key, Unmanaged.passRetained(box).toOpaque())
        }
        var out = ByteWriter()
        swap(&out, &box.writer)
        out.removeAll()
        let r = body(&out)
        if out.capacity <= OutputBuffers.keptCapacity { swap(&out, &box.writer) }
        out.release()  // the one not kept: an empty one, or one grown past the kept size
        return r
    }
}
