// The lookup tables of a loaded snapshot (trie nodes, group entries, rule refs, rule rows) are tens of MB read at
// random: with 4 KiB pages nearly every lookup step also misses the TLB. Frozen copies live in a mapping of their
// own with MADV_HUGEPAGE (honoured when transparent huge pages are "madvise" or "always"; harmless otherwise).
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An immutable copy of an array of plain values (no references inside), optionally on huge pages.
final class FrozenArray<T>: @unchecked Sendable {
    // Written once in init, never after; T holds no references, so sharing across threads is safe.
    let base: UnsafeMutablePointer<T>
    let count: Int
    private let mappedBytes: Int

    static var hugePage: Int { 2 << 20 }

    init(_ a: [T]) {
        precondition(_isPOD(T.self), "FrozenArray holds plain values only")
        count = a.count
        let bytes = max(1, a.count) * MemoryLayout<T>.stride
        var mapped = 0
        var p: UnsafeMutablePointer<T>? = nil
        if bytes >= FrozenArray.hugePage {
            let size = (bytes + FrozenArray.hugePage - 1) / FrozenArray.hugePage * FrozenArray.hugePage
            let m = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
            if let m, m != MAP_FAILED {
                _ = madvise(m, size, 14) // MADV_HUGEPAGE (not exported by every Glibc module map)
                p = m.bindMemory(to: T.self, capacity: max(1, a.count))
                mapped = size
            }
        }
        base = p ?? UnsafeMutablePointer<T>.allocate(capacity: max(1, a.count))
        mappedBytes = mapped
        a.withUnsafeBufferPointer { src in
            if let s = src.baseAddress { base.initialize(from: s, count: src.count) }
        }
    }

    deinit {
        if mappedBytes > 0 { munmap(UnsafeMutableRawPointer(base), mappedBytes) } else { base.deallocate() }
    }

    @inline(__always)
    subscript(i: Int) -> T { base[i] }
}
