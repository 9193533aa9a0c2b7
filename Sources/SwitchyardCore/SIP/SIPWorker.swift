import Foundation

/// A thread the core starts to serve one socket (OpenSIPS's UDP/TCP worker process): it calls the
/// transport's serve(), which hands every received message back through sip_receive. It owns its
/// script variables and one reused context, so routes on different workers never share state.
final class SIPWorker: @unchecked Sendable {
    // Confined to its own thread after start.
    let socket: SIPSocket
    let state: WorkerState
    let ctx: ScriptContext
    let rank: Int

    init(socket: SIPSocket, engine: ScriptEngine, rank: Int) {
        self.socket = socket
        self.rank = rank
        state = engine.makeWorkerState(rank: rank)
        ctx = engine.makeContext(worker: state, routeType: .request)
    }

    /// The opaque pointer handed to the transport (the worker outlives every serve() call).
    var handle: OpaquePointer { OpaquePointer(Unmanaged.passUnretained(self).toOpaque()) }

    static func from(_ p: OpaquePointer) -> SIPWorker {
        Unmanaged<SIPWorker>.fromOpaque(UnsafeRawPointer(p)).takeUnretainedValue()
    }
}
