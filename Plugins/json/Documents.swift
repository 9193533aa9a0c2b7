// Where `$json` documents live: one table per worker, as OpenSIPS keeps them per process.
//
// Reset rule (as OpenSIPS): a document lives in the worker that set it, across messages and events, until the script
// assigns its name again (`:=`, `=`, or NULL). Nothing is reset per message. Memory stays bounded: the document names
// are literal text in the config (a name cannot be a variable), so a worker holds at most one document per distinct
// name, and assigning a name replaces (frees) the previous document. Only a script that keeps growing one document
// without ever re-assigning it (e.g. `$json(log[]) = ...` on every event) grows — as it would in OpenSIPS.
//
// startup_route: OpenSIPS runs it before forking, so every process starts with a copy of what it set. Here it runs
// with worker 1's table; the first child_init takes a snapshot of that table (before any worker serves), and every
// other worker's table — script workers and timer routes — starts as a private copy of the snapshot.
import SwitchyardJSON
import SwitchyardPluginKit
import Synchronization

/// Document names seen at startup, each with a slot number used to index every worker's table.
final class DocumentNames: Sendable {
    private let slots = Mutex([String: Int]())

    func slot(for name: String) -> Int {
        slots.withLock { table in
            if let s = table[name] { return s }
            let s = table.count
            table[name] = s
            return s
        }
    }
}

/// One worker's documents. Used by one thread at a time: the worker's own thread (or the main thread running
/// startup_route before any worker starts, for worker 1; or the timer thread, for a timer route's own negative rank).
final class WorkerDocuments: @unchecked Sendable {
    enum Slot {
        /// Never assigned in this worker: writing below it fails with "Object is not initialized yet".
        case unset
        /// Assigned NULL, or a failed `:=` parse: reads as NULL; writing below it fails ("Could not find object").
        case cleared
        case node(JSONNode)
    }

    private var slots: [Slot] = []

    /// json_link finds which `$json` spec an argument is by reading it in this mode: the getter records its parsed
    /// path here instead of evaluating it (the core hands the plugin an opaque variable handle).
    var probing = false
    var probed: JSONPath? = nil

    /// Every slot (for the startup snapshot).
    var allSlots: [Slot] { slots }

    /// Starts this (new) table as a private copy of `snapshot`: the containers are copied, links among them kept.
    func load(copying snapshot: [Slot]) {
        var roots: [JSONNode] = []
        for case .node(let n) in snapshot { roots.append(n) }
        var copies = JSONNode.copies(of: roots).makeIterator()
        slots = snapshot.map { slot in
            if case .node = slot, let copy = copies.next() { return .node(copy) }
            return slot
        }
    }

    subscript(slot: Int) -> Slot {
        get { slot < slots.count ? slots[slot] : .unset }
        set {
            if slot >= slots.count { slots.append(contentsOf: repeatElement(.unset, count: slot - slots.count + 1)) }
            slots[slot] = newValue
        }
    }
}

/// Every worker's documents, keyed by the worker rank the core reports for a context (`ctx_worker`).
final class DocumentStore: Sendable {
    /// The worker whose table startup_route uses (the core runs it with the first worker's state).
    static let startupRank = 1

    private struct State {
        var workers: [Int: WorkerDocuments] = [:]
        /// What startup_route left, copied into every other new table; nil before the first child_init.
        var startup: [WorkerDocuments.Slot]? = nil
    }

    private let state = Mutex(State())

    /// Lock-free lookup for the usual ranks: every `$json` access asks for its worker's table, and a shared lock
    /// taken that often by every worker was the hottest contention of the event scenario. Filled once per rank.
    private static let fastRanks = 256
    private let fast: [OnceSlot<WorkerDocuments>] = (0..<DocumentStore.fastRanks).map { _ in OnceSlot() }

    func documents(forWorker key: Int) -> WorkerDocuments {
        guard key >= 0 && key < Self.fastRanks else { return slowDocuments(forWorker: key) }
        if let d = fast[key].load() { return d }
        return fast[key].storeIfNil(slowDocuments(forWorker: key))
    }

    private func slowDocuments(forWorker key: Int) -> WorkerDocuments {
        state.withLock { state in
            if let docs = state.workers[key] { return docs }
            let docs = WorkerDocuments()
            if let snapshot = state.startup, key != Self.startupRank { docs.load(copying: snapshot) }
            state.workers[key] = docs
            return docs
        }
    }

    /// child_init (each worker, before it serves): the first call copies what startup_route set. No worker has served
    /// yet, so the startup table is not being changed meanwhile. The snapshot is a private copy that nothing changes
    /// afterwards (worker 1 keeps changing its own table), so copying from it on any thread is safe.
    func takeStartupSnapshot() {
        state.withLock { state in
            guard state.startup == nil else { return }
            let copy = WorkerDocuments()
            copy.load(copying: state.workers[Self.startupRank]?.allSlots ?? [])
            state.startup = copy.allSlots
        }
    }
}
