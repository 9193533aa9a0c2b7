// The server's FIFO: (re)created at startup, opened for reading and also for writing (so clients opening and
// closing it never make the reader see EOF), checked for removal/replacement.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SwitchyardPluginKit

/// Used by the reader thread only (after init hands it over).
final class ServerFifo: @unchecked Sendable {
    let path: String
    let mode: mode_t
    let uid: UInt32?
    let gid: UInt32?
    private(set) var readFD: Int32 = -1
    private var writeFD: Int32 = -1
    private var device: UInt64 = 0
    private var inode: UInt64 = 0

    init(path: String, mode: mode_t, uid: UInt32?, gid: UInt32?) {
        self.path = path
        self.mode = mode
        self.uid = uid
        self.gid = gid
    }

    /// Deletes whatever is at `path`, creates the FIFO with `mode` (umask ignored), chowns it, opens both ends.
    /// A FIFO that another live process reads (a second instance started on the same fifo_name) is left alone:
    /// taking it over would make the two re-create it in turn forever.
    func open() throws {
        var st = stat()
        if lstat(path, &st) == 0 {
            if (st.st_mode & S_IFMT) == S_IFIFO, let reader = Self.liveReader(of: path) {
                let who = reader > 0 ? "process \(reader)\(Self.commandName(reader).map { " (\($0))" } ?? "")" : "another process"
                throw PluginError("FIFO \(path) is in use: \(who) is reading it. Is another instance running? Stop it, or give this one another fifo_name")
            }
            guard unlink(path) == 0 else { throw PluginError("cannot remove old \(path): \(errorText())") }
        }
        guard mkfifo(path, mode) == 0 else { throw PluginError("cannot create FIFO \(path): \(errorText())") }
        guard chmod(path, mode) == 0 else { throw PluginError("cannot chmod FIFO \(path): \(errorText())") }
        if uid != nil || gid != nil {
            guard chown(path, uid ?? UInt32.max, gid ?? UInt32.max) == 0 else {
                throw PluginError("cannot chown FIFO \(path): \(errorText())")
            }
        }
        readFD = Glibc.open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard readFD >= 0 else { throw PluginError("cannot open FIFO \(path) for reading: \(errorText())") }
        writeFD = Glibc.open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        guard writeFD >= 0 else {
            let e = errorText(); close()
            throw PluginError("cannot open FIFO \(path) for writing: \(e)")
        }
        guard fstat(readFD, &st) == 0 else { let e = errorText(); close(); throw PluginError("fstat \(path): \(e)") }
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
    }

    /// Whether a live process reads the FIFO at `path`: nil when none does; else its pid, or 0 when it cannot be named.
    /// Opening the write end without blocking succeeds only when a reader has it open; the reader is named by looking
    /// for a descriptor on the same file among the processes' open files.
    static func liveReader(of path: String) -> Int32? {
        let fd = Glibc.open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return nil } // ENXIO: nobody reads it
        var st = stat()
        let ok = fstat(fd, &st) == 0
        Glibc.close(fd)
        guard ok else { return 0 }
        let me = getpid()
        guard let proc = opendir("/proc") else { return 0 }
        defer { closedir(proc) }
        while let e = readdir(proc) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let pid = Int32(name), pid != me, let fds = opendir("/proc/\(name)/fd") else { continue }
            defer { closedir(fds) }
            while let f = readdir(fds) {
                let fdName = withUnsafeBytes(of: f.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                var fst = stat()
                if Int(fdName) != nil, stat("/proc/\(name)/fd/\(fdName)", &fst) == 0,
                   fst.st_dev == st.st_dev, fst.st_ino == st.st_ino {
                    return pid
                }
            }
        }
        return 0
    }

    /// The command name of a process (from /proc), if readable.
    static func commandName(_ pid: Int32) -> String? {
        guard let text = ProcFile.read("/proc/\(pid)/comm") else { return nil }
        let t = text.split(separator: "\n").first.map(String.init) ?? ""
        return t.isEmpty ? nil : t
    }

    /// True while `path` is still the FIFO this object opened.
    func isIntact() -> Bool {
        var st = stat()
        guard lstat(path, &st) == 0 else { return false }
        return (st.st_mode & S_IFMT) == S_IFIFO && UInt64(st.st_dev) == device && UInt64(st.st_ino) == inode
    }

    func reopen() throws {
        close()
        try open()
    }

    /// Closes both ends.
    func close() {
        if readFD >= 0 { Glibc.close(readFD); readFD = -1 }
        if writeFD >= 0 { Glibc.close(writeFD); writeFD = -1 }
    }

    /// Closes both ends and removes the FIFO if it is still the one created here (server shutdown).
    func shutdown() {
        if isIntact() { unlink(path) }
        close()
    }
}

func errorText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }

/// Small whole-file reads (no Foundation in this plugin).
enum ProcFile {
    static func read(_ path: String) -> String? {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        var buf = [UInt8](repeating: 0, count: 256)
        let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        return n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : nil
    }
}
