// The OpenSIPS `proto_udp` module as a Switchyard plugin: SIP over UDP. It owns the sockets; every datagram goes to
// the core (host sip_receive) on the worker thread that read it, as OpenSIPS's UDP worker processes do.
//
//   socket = udp:127.0.0.1:5060        (udp_workers / `use_workers N` threads read each socket)
#if canImport(Glibc)
import Glibc
#endif
import CUDPBatch
import SwitchyardABI
import SwitchyardPluginKit
import Synchronization

@_cdecl("switchyard_plugin_entry")
public func switchyardPluginEntry(_ raw: UnsafePointer<sy_host_api>?) -> UnsafePointer<sy_module_exports>? {
    guard let host = PluginHost(raw, module: "proto_udp") else { return nil }
    guard host.provides(\.sip_receive) else {
        host.log(.err, "this core has no SIP support (needs ABI 1.4)")
        return nil
    }
    return ProtoUDPModule(host: host).build().pointer // allocated once, never freed
}

final class ProtoUDPModule: Sendable {
    let host: PluginHost
    /// modparam sched_batch (default 1): the workers run under SCHED_BATCH. Read when the sockets open (after
    /// every modparam).
    let schedBatch = Atomic<Bool>(true)
    init(host: PluginHost) { self.host = host }

    func build() -> ModuleExports {
        var m = ModuleExportsBuilder(host: host, name: "proto_udp", version: "1.0.0", description: "SIP over UDP")
        m.param("sched_batch", .int) { [self] v in
            guard let n = v.intValue, n == 0 || n == 1 else { throw PluginError("sched_batch must be 0 or 1") }
            schedBatch.store(n == 1, ordering: .relaxed)
        }
        m.transport("udp", defaultPort: 5060) { [host, self] sa, len in
            try UDPListener(host: host, address: sa, length: len, schedBatch: schedBatch.load(ordering: .relaxed))
        }
        return m.build()
    }
}

/// One bound UDP socket, read by several worker threads at once (the kernel hands each datagram to one reader).
final class UDPListener: SIPListener {
    let host: PluginHost
    let fd: Int32
    /// The socket's address family: a datagram for another family is sent at once (and refused by the kernel), never
    /// batched, so forward() still reports the failure to the script (ds_next_dst, use_next_gw failover).
    let family: sa_family_t
    let stopping = Atomic<Bool>(false)
    /// The workers switch themselves to SCHED_BATCH (modparam sched_batch).
    let schedBatch: Bool
    static let maxDatagram = 65535

    init(host: PluginHost, address: UnsafePointer<sockaddr>, length: socklen_t, schedBatch: Bool) throws {
        self.host = host
        self.schedBatch = schedBatch
        family = address.pointee.sa_family
        let s = socket(Int32(family), Int32(SOCK_DGRAM.rawValue), 0)
        guard s >= 0 else { throw PluginError("socket(): \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        // Room for bursts: a full receive buffer is where UDP loses calls under load.
        var size: Int32 = 4 << 20
        setsockopt(s, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(s, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        // Readers wake up now and then to notice shutdown.
        var tv = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        guard bind(s, address, length) == 0 else {
            let e = String(cString: strerror(errno))
            close(s)
            throw PluginError("bind(): \(e)")
        }
        fd = s
    }

    /// Datagrams taken per receive call, and the most replies/forwards one batch of them sends with one call.
    static let batch = 64
    /// Full batches in a row after which the first worker is behind and a standing-by worker joins.
    static let fullBatchesBehind = 2
    /// How often a standing-by worker checks that the first worker still makes progress.
    static let standbyCheckNanoseconds = 10_000_000

    /// serve() calls so far: the first worker reads the socket; the others stand by (see serve).
    let servers = Atomic<Int>(0)
    /// Posted by the first worker when it found full batches queued twice in a row: one standing-by worker joins in.
    let backlog = Semaphore()
    /// Batches the first worker has handled: a standing-by worker that sees no change over 10 ms takes over what waits.
    let batches = Atomic<Int>(0)

    /// Reads the socket in batches (one recvmmsg takes every datagram already queued, up to `batch`), hands each to
    /// the core, and sends what the core sent while handling them with one sendmmsg at the end of the batch: under
    /// load one system call moves many messages instead of one.
    ///
    /// One worker blocks on the socket; the others stand by and join only when it falls behind (it found a full
    /// batch queued twice in a row), or when it has handled nothing for 10 ms (stuck in a long route, or idle: then there is nothing). Two
    /// threads blocked on one socket each wake for every other datagram, and those wake-ups cost more than the
    /// messages themselves when one thread could keep up alone.
    func serve(worker: OpaquePointer) {
        // A wake-up that waits for the busy CPU's current task instead of preempting it finds more datagrams queued:
        // one recvmmsg/sendmmsg pair for them instead of a sleep, wake-up and system call pair per burst.
        let policy = schedBatch ? cudp_thread_batch_policy() : 0
        if policy != 0 { host.log(.dbg, "SCHED_BATCH not set: \(String(cString: strerror(policy)))") }
        let slot = UDPListener.maxDatagram + 1
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: slot * UDPListener.batch, alignment: 16)
        defer { buf.deallocate() }
        let from = UnsafeMutablePointer<sockaddr_storage>.allocate(capacity: UDPListener.batch)
        defer { from.deallocate() }
        let fromLens = UnsafeMutablePointer<socklen_t>.allocate(capacity: UDPListener.batch)
        defer { fromLens.deallocate() }
        let lens = UnsafeMutablePointer<Int32>.allocate(capacity: UDPListener.batch)
        defer { lens.deallocate() }
        let outgoing = SendBatch(capacity: UDPListener.batch)
        pthread_setspecific(sendKey.key, Unmanaged.passUnretained(outgoing).toOpaque())
        defer { pthread_setspecific(sendKey.key, nil) }
        let base = buf.baseAddress!.assumingMemoryBound(to: UInt8.self)
        guard let rx = cudp_rx_new(base, slot, Int32(UDPListener.batch), from) else {
            host.log(.err, "out of memory for the receive batch")
            return
        }
        defer { cudp_rx_free(rx) }

        /// One batch read and handled; its size, 0 when none was queued (or on a timeout or error).
        func serveBatch(wait: Bool) -> Int {
            let n = cudp_rx_recv(rx, fd, wait ? 1 : 0, fromLens, lens)
            if n < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || stopping.load(ordering: .relaxed) { return 0 }
                host.log(.err, "recvmmsg: \(String(cString: strerror(errno)))")
                usleep(10_000)
                return 0
            }
            outgoing.open = true
            for i in 0..<Int(n) {
                let len = Int(lens[i])
                // Keep-alives (a bare CRLF) and runts are not SIP messages; a cut datagram (-1) is not one either.
                if len <= 4 { continue }
                (from + i).withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                    _ = host.sipReceive(worker: worker, conn: 0, source: sa, sourceLength: fromLens[i],
                                        bytes: UnsafeRawBufferPointer(start: base + i * slot, count: len))
                }
            }
            outgoing.open = false
            flush(outgoing)
            return Int(n)
        }

        if servers.wrappingAdd(1, ordering: .relaxed).oldValue == 0 {
            // Full batches in a row: one is a burst (sipp sends a millisecond's calls at once) the worker drains alone;
            // waking a standing-by worker for it costs a wake-up and leaves two readers on one queue.
            var fullInARow = 0
            while !stopping.load(ordering: .relaxed) {
                let n = serveBatch(wait: true)
                batches.add(1, ordering: .relaxed)
                fullInARow = n == UDPListener.batch ? fullInARow + 1 : 0
                if fullInARow == UDPListener.fullBatchesBehind { backlog.post() }
            }
        } else {
            var seen = -1
            while !stopping.load(ordering: .relaxed) {
                let posted = backlog.wait(nanoseconds: UDPListener.standbyCheckNanoseconds)
                let now = batches.load(ordering: .relaxed)
                if posted || now == seen {
                    while !stopping.load(ordering: .relaxed) && serveBatch(wait: false) > 0 {}
                }
                seen = now
            }
        }
    }

    /// Per-thread pointer to the serving thread's `SendBatch`: a send made while that thread handles a batch joins it.
    let sendKey = ThreadKey()

    func send(conn: UInt64, to address: UnsafePointer<sockaddr>, length: socklen_t, bytes: UnsafeRawBufferPointer) -> Bool {
        if let p = pthread_getspecific(sendKey.key) {
            // The serving thread's batch lives for its whole serve() call: used without a retain/release per send.
            let kept = Unmanaged<SendBatch>.fromOpaque(p)._withUnsafeGuaranteedRef { batch -> Bool in
                guard batch.open, address.pointee.sa_family == family else { return false }
                if batch.isFull(adding: bytes.count) { flush(batch) }
                return batch.add(to: address, length: length, bytes: bytes)
            }
            if kept { return true }
        }
        let n = sendto(fd, bytes.baseAddress, bytes.count, 0, address, length)
        if n < 0 {
            host.log(.err, "sendto: \(String(cString: strerror(errno)))")
            return false
        }
        return true
    }

    private func flush(_ batch: SendBatch) {
        guard batch.count > 0 else { return }
        batch.send(fd) { err in host.log(.err, "sendmmsg: \(String(cString: strerror(err)))") }
    }

    func stop() {
        stopping.store(true, ordering: .relaxed)
    }
}
