import Foundation
import SwitchyardABI

/// Finds, opens and checks plugin files. Every refusal is one line naming the file and the reason.
public struct ModuleLoader {
    public struct LoadError: Error, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    let searchPath: [String]
    let host: UnsafePointer<sy_host_api>
    /// The core the plugins are loaded into (nil for a syntax check): told which file is loading.
    let services: (any HostServices)?

    init(searchPath: [String], host: UnsafePointer<sy_host_api>, services: (any HostServices)? = nil) {
        self.searchPath = searchPath
        self.host = host
        self.services = services
    }

    /// The directory of the running executable: where SwiftPM puts the plugins of the same build.
    public static var executableDirectory: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return (exe as NSString).deletingLastPathComponent
    }

    /// Candidate files for `loadmodule "name"`, in the order they are tried.
    func candidates(for name: String) -> [String] {
        if name.hasPrefix("/") { return [name] }
        if name.contains("/") { return [FileManager.default.currentDirectoryPath + "/" + name] }
        let base = name.hasSuffix(".so") ? String(name.dropLast(3)) : name
        let stripped = base.hasPrefix("lib") ? String(base.dropFirst(3)) : base
        var names = [name, base + ".so", "lib" + base + ".so", "lib" + stripped + ".so", stripped + ".so"]
        var seen = Set<String>()
        names = names.filter { seen.insert($0).inserted }
        var out: [String] = []
        for dir in searchPath {
            let d = dir.hasSuffix("/") ? String(dir.dropLast()) : dir
            for n in names { out.append("\(d)/\(n)") }
            out.append("\(d)/\(base)/\(base).so")  // build-tree layout modules/tm/tm.so
        }
        return out
    }

    /// Opens and checks one plugin.
    func load(name: String, location: SourceLocation?) throws(LoadError) -> LoadedModule {
        let tried = candidates(for: name)
        guard let path = tried.first(where: { isRegularFile($0) }) else {
            if let aliased = findByAlias(name, location: location) { return aliased }
            throw LoadError(message: "loadmodule \"\(name)\": file not found (tried: \(tried.joined(separator: ", "))); did you run `swift build`, or is mpath wrong?")
        }
        return try open(path: path, requested: name, location: location)
    }

    func discard(_ path: String) { services?.pluginDiscarded(path) }

    func isRegularFile(_ p: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: p, isDirectory: &isDir) && !isDir.boolValue
    }

    /// A module may be loaded by one of its aliases (cachedb_local.so → cache_local): look for a
    /// plugin in the search path whose exports list the name.
    func findByAlias(_ name: String, location: SourceLocation?) -> LoadedModule? {
        var base = name.hasSuffix(".so") ? String(name.dropLast(3)) : name
        if base.contains("/") { return nil }
        if base.hasPrefix("lib") { base = String(base.dropFirst(3)) }
        for dir in searchPath {
            guard let files = try? FileManager.default.contentsOfDirectory(atPath: dir) else { continue }
            for f in files.sorted() where f.hasSuffix(".so") {
                let path = "\(dir)/\(f)"
                guard let h = dlopen(path, RTLD_LAZY | RTLD_LOCAL | RTLD_NODELETE) else { continue }
                let isPlugin = dlsym(h, SY_ENTRY_SYMBOL) != nil
                dlclose(h)
                guard isPlugin, let m = try? open(path: path, requested: name, location: location) else { continue }
                if m.aliases.contains(where: { $0.lowercased() == base.lowercased() }) { return m }
                discard(path)  // only probed: what its entry published is not ours to keep
                dlclose(m.handle)
            }
        }
        return nil
    }

    func open(path: String, requested: String, location: SourceLocation?) throws(LoadError) -> LoadedModule {
        // RTLD_NODELETE: a refused plugin is dlclose()d, and unmapping a Swift library would leave
        // its protocol conformances registered with the Swift runtime pointing at freed memory.
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE) else {
            let reason = dlerror().map { String(cString: $0) } ?? "unknown dlopen error"
            throw LoadError(message: "\(path): cannot load: \(reason)")
        }
        guard let sym = dlsym(handle, SY_ENTRY_SYMBOL) else {
            dlclose(handle)
            throw LoadError(message: "\(path): not a Switchyard plugin (no \(SY_ENTRY_SYMBOL) symbol)")
        }
        let entry = unsafeBitCast(sym, to: sy_entry_fn.self)
        services?.pluginLoading(path)
        let exportsResult = entry(host)
        services?.pluginLoading(nil)
        guard let exportsPtr = exportsResult else {
            discard(path)
            dlclose(handle)
            throw LoadError(message: "\(path): the plugin refused to load (its entry function returned NULL; host ABI is \(SY_ABI_MAJOR).\(SY_ABI_MINOR))")
        }
        let raw = UnsafeRawPointer(exportsPtr)
        let header = raw.load(as: sy_table_header.self)
        let core = "\(SY_ABI_MAJOR).\(SY_ABI_MINOR)"
        if header.abi_major != UInt32(SY_ABI_MAJOR) {
            discard(path)
            dlclose(handle)
            throw LoadError(message: "\(path): built for ABI \(header.abi_major).\(header.abi_minor), but this core speaks ABI \(core) (major version differs; rebuild the plugin)")
        }
        if header.abi_minor > UInt32(SY_ABI_MINOR) {
            discard(path)
            dlclose(handle)
            throw LoadError(message: "\(path): built for ABI \(header.abi_major).\(header.abi_minor), newer than this core's ABI \(core) (upgrade Switchyard or rebuild the plugin against this header)")
        }
        let required = ABIReader.requiredExportsSize(minor: header.abi_minor)
        if Int(header.struct_size) < required {
            discard(path)
            dlclose(handle)
            throw LoadError(message: "\(path): exports table is \(header.struct_size) bytes, but ABI \(header.abi_major).\(header.abi_minor) requires at least \(required) (truncated table)")
        }
        let exports = ABIReader.copy(sy_module_exports.self, from: raw, available: Int(header.struct_size))
        guard exports.name != nil else {
            discard(path)
            dlclose(handle)
            throw LoadError(message: "\(path): exports table has no module name")
        }
        do {
            return try LoadedModule(path: path, handle: handle, exports: exports, location: location)
        } catch {
            discard(path)
            dlclose(handle)
            throw LoadError(message: "\(path): \(error.message)")
        }
    }
}
