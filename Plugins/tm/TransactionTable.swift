// The hash table of transactions: 65536 buckets, each with its own recursive lock that also guards the cells in it.
#if canImport(Glibc)
import Glibc
#endif

final class TransactionTable: @unchecked Sendable {
    // Every bucket's cell list, label counter and counters are read and written only while holding that bucket's
    // mutex (lock(_:)/unlock(_:)); the arrays themselves are allocated once and never resized.
    static let size = 65536
    private let locks: UnsafeMutablePointer<pthread_mutex_t>
    /// Each bucket's cells as a list linked through `Cell.nextInBucket` (oldest first): adding a cell allocates
    /// nothing (an array per bucket allocated storage for the first cell of each bucket).
    private let heads: UnsafeMutablePointer<Cell?>
    private let labels: UnsafeMutablePointer<UInt32>
    private let totals: UnsafeMutablePointer<UInt64>

    init() {
        locks = .allocate(capacity: TransactionTable.size)
        heads = .allocate(capacity: TransactionTable.size)
        labels = .allocate(capacity: TransactionTable.size)
        totals = .allocate(capacity: TransactionTable.size)
        var attr = pthread_mutexattr_t()
        pthread_mutexattr_init(&attr)
        // Recursive: a failure route running under the lock may relay (t_relay) on the same cell.
        pthread_mutexattr_settype(&attr, Int32(PTHREAD_MUTEX_RECURSIVE))
        for i in 0..<TransactionTable.size {
            pthread_mutex_init(locks + i, &attr)
            (heads + i).initialize(to: nil)
            labels[i] = UInt32(truncatingIfNeeded: i &* 2654435761)
            totals[i] = 0
        }
        pthread_mutexattr_destroy(&attr)
    }

    /// The bucket of a Call-ID and CSeq number.
    static func hash(callID: String, cseq: Int64) -> Int { hash(callIDBytes: callID.utf8, cseq: cseq) }

    static func hash<S: Sequence>(callIDBytes: S, cseq: Int64) -> Int where S.Element == UInt8 {
        var h: UInt32 = 2166136261
        for c in callIDBytes { h = (h ^ UInt32(c)) &* 16777619 }
        var n = cseq
        repeat { h = (h ^ UInt32(truncatingIfNeeded: 48 + n % 10)) &* 16777619; n /= 10 } while n > 0
        return Int(h & UInt32(TransactionTable.size - 1))
    }

    @inline(__always) func lock(_ i: Int) { pthread_mutex_lock(locks + i) }
    @inline(__always) func unlock(_ i: Int) { pthread_mutex_unlock(locks + i) }

    @inline(__always) func withBucket<R>(_ i: Int, _ body: () -> R) -> R {
        lock(i)
        defer { unlock(i) }
        return body()
    }

    /// True when a bucket holds no cell (lock held).
    func isEmpty(_ i: Int) -> Bool { heads[i] == nil }

    /// Cells of a bucket (lock held).
    func bucket(_ i: Int) -> BucketCells { BucketCells(head: heads[i]) }

    /// A new label for a cell of the bucket (lock held).
    func nextLabel(_ i: Int) -> UInt32 {
        labels[i] &+= 1
        return labels[i]
    }

    /// Adds a cell at the end of its bucket (lookups keep finding the oldest match first).
    func insert(_ c: Cell) {
        if var last = heads[c.hashIndex] {
            while let n = last.nextInBucket { last = n }
            last.nextInBucket = c
        } else {
            heads[c.hashIndex] = c
        }
        totals[c.hashIndex] += 1
    }

    func remove(_ c: Cell) {
        if heads[c.hashIndex] === c {
            heads[c.hashIndex] = c.nextInBucket
        } else {
            var p = heads[c.hashIndex]
            while let q = p, q.nextInBucket !== c { p = q.nextInBucket }
            p?.nextInBucket = c.nextInBucket
        }
        c.nextInBucket = nil
        c.removed = true
    }

    /// (current, total) of a bucket, for MI t_hash.
    func counts(_ i: Int) -> (Int, UInt64) { withBucket(i) { (bucket(i).reduce(0) { n, _ in n + 1 }, totals[i]) } }
}

/// The cells of one bucket, oldest first (read with the bucket lock held).
struct BucketCells: Sequence {
    let head: Cell?

    struct Iterator: IteratorProtocol {
        var cell: Cell?
        mutating func next() -> Cell? {
            let c = cell
            cell = c?.nextInBucket
            return c
        }
    }

    func makeIterator() -> Iterator { Iterator(cell: head) }
}
