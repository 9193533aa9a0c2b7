// One ESL command on its way: its bytes, its deadline and the one-shot delivery of its outcome.
import SwitchyardABI
import SwitchyardESL
import Synchronization

/// A command's outcome on the Swift side (C view built at delivery).
struct FSResult: Sendable {
    var status: Int32
    var kind: Int32
    var text: String
    var jobUUID: String

    static func unreachable(_ why: String = "") -> FSResult {
        FSResult(status: Int32(SY_FS_UNREACHABLE.rawValue), kind: Int32(SY_FS_REPLY_NONE.rawValue), text: why, jobUUID: "")
    }

    /// The outcome a reply frame carries; `type` is the frame's content type, as the caller already read it.
    static func from(_ frame: ESLFrame, _ type: ESLContentType) -> FSResult {
        if type == .apiResponse {
            let body = frame.bodyString
            return FSResult(status: body.hasPrefix("-ERR") ? Int32(SY_FS_ERR.rawValue) : Int32(SY_FS_OK.rawValue),
                            kind: Int32(SY_FS_REPLY_API.rawValue), text: body, jobUUID: "")
        }
        let text = frame.replyText ?? ""
        return FSResult(status: text.hasPrefix("-ERR") ? Int32(SY_FS_ERR.rawValue) : Int32(SY_FS_OK.rawValue),
                        kind: Int32(SY_FS_REPLY_COMMAND.rawValue), text: text, jobUUID: frame.jobUUID ?? "")
    }
}

/// One command sent or waiting to be sent. `finish` delivers the outcome exactly once (a reply, a timeout, a loss).
final class Pending: @unchecked Sendable { // deadline/bytes written before the Pending is shared, then only under the box's state lock
    let bytes: [UInt8]
    var deadline: Int64
    let timeoutMs: Int64
    /// A caller blocks on it (command): whichever thread reads its reply finishes it at once. Other outcomes
    /// (command_async) are finished on the box's I/O thread, as the header promises.
    let blocking: Bool
    private let done: @Sendable (FSResult) -> Void
    private let finished = Atomic<Bool>(false)

    init(bytes: [UInt8], deadline: Int64, timeoutMs: Int64, blocking: Bool = false,
         done: @escaping @Sendable (FSResult) -> Void) {
        self.bytes = bytes
        self.blocking = blocking
        self.deadline = deadline
        self.timeoutMs = timeoutMs
        self.done = done
    }

    var isFinished: Bool { finished.load(ordering: .acquiring) }

    /// Delivers `r` unless an outcome was already delivered; true if this call delivered it.
    @discardableResult
    func finish(_ r: FSResult) -> Bool {
        guard !finished.exchange(true, ordering: .acquiringAndReleasing) else { return false }
        done(r)
        return true
    }
}

/// Encodes a caller's command text: first line the command, then optional `Name: value` header lines.
func encodeCommand(_ text: String) -> [UInt8]? {
    // The usual case (one line, e.g. "bgapi uuid_transfer ..."): no splitting, the bytes copied once (on the
    // contiguous UTF-8: the generic UTF8View walks cost more than the rest of the command's encoding).
    var copy = text
    let single = copy.withUTF8 { u -> [UInt8]?? in
        guard !u.contains(UInt8(ascii: "\n")) else { return .none }
        var end = u.count
        if end > 0 && u[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        let line = UnsafeBufferPointer(rebasing: u[..<end])
        guard line.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") }) else { return .some(nil) }
        var out: [UInt8] = []
        out.reserveCapacity(end + 2)
        out.append(contentsOf: line)
        out.append(UInt8(ascii: "\n")) // ESLEncoder.command(line) with no header: the line, then a blank line
        out.append(UInt8(ascii: "\n"))
        return .some(out)
    }
    if case .some(let bytes) = single { return bytes }
    var lines = text.split(separator: "\n", omittingEmptySubsequences: true).map { l -> Substring in
        l.hasSuffix("\r") ? l.dropLast() : l
    }
    guard let first = lines.first, !String(first).trimmingCharacters(in: " \t").isEmpty else { return nil }
    lines.removeFirst()
    var headers: [ESLHeader] = []
    for l in lines {
        guard let colon = l.firstIndex(of: ":") else { return nil }
        headers.append(ESLHeader(String(l[..<colon]), String(l[l.index(after: colon)...]).trimmingCharacters(in: " \t")))
    }
    return ESLEncoder.command(String(first), headers: headers)
}
