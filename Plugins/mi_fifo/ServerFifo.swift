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
    func open() throws {
        var st = stat()
        if lstat(path, &st) == 0 {
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
