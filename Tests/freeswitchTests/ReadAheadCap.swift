// The freeswitch plugin's read-ahead cap, in figures a test can build on (the plugin is not importable here).
import Foundation

enum ReadAheadCap {
    /// BoxReader.heldHardMax: events a caller waiting for its reply may leave waiting for the I/O thread.
    static let events = 16 * 1024

    /// The most one read of a box's socket brings: 64 KiB, or the test hook's size when a test made it larger.
    static var readBytes: Int {
        max(65536, getenv("SWITCHYARD_TEST_FS_READ_BUFFER").flatMap { Int(String(cString: $0)) } ?? 0)
    }

    /// Events enough ahead of a reply that a reader stopping at the cap cannot reach it: the cap, a lane of `lane`
    /// events and the one waiting for room in it, two reads of the smallest frame (a reader's last read may go past
    /// the cap), and `margin` more.
    static func eventsPast(smallestFrame: Int, lane: Int = 16, margin: Int = 2000) -> Int {
        events + lane + 1 + 2 * (readBytes / smallestFrame + 1) + margin
    }

    /// The most bytes the kernel may buffer on a loopback connection (the sender's and the receiver's maxima):
    /// bytes written beyond these wait for the reader (TCP pushes back).
    static var socketBufferBytes: Int {
        func max(_ path: String) -> Int {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return 64 << 20 }
            return text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).last.flatMap { Int($0) } ?? 64 << 20
        }
        return max("/proc/sys/net/ipv4/tcp_rmem") + max("/proc/sys/net/ipv4/tcp_wmem")
    }
}
