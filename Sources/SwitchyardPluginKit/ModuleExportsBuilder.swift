// ModuleExportsBuilder: declare a module with Swift closures, get a C sy_module_exports that lives forever.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import SwitchyardABI

/// Declares a module — name, version, dependencies, parameters, script functions, pseudo-variables, MI commands,
/// events, lifecycle hooks — with Swift closures, and builds the C exports table the entry function returns.
///
/// `build()` allocates every C string, array and table once and never frees them; each closure is kept in a retained
/// box reached from C through the `void *user` pointer (`Unmanaged`). The returned pointer therefore stays valid for
/// the life of the process. Closures are `@Sendable`: handlers run concurrently on worker and MI threads.
public struct ModuleExportsBuilder {
    public let host: PluginHost
    public let name: String
    public var version: String
    public var description: String
    /// Other names `loadmodule` accepts for this module (ABI 1.1).
    public var aliases: [String] = []

    private var deps: [(name: String?, flags: UInt32)] = []
    private var params: [ParamDecl] = []
    private var funcs: [FuncDecl] = []
    private var pvars: [PVDecl] = []
    private var miCmds: [MIDecl] = []
    private var events: [String] = []
    var protoDecls: [ProtoDecl] = []
    var contextDecls: [PVContextDecl] = []
    private var initHook: (@Sendable () throws -> Void)?
    private var childInitHook: (@Sendable (Int32) throws -> Void)?
    private var destroyHook: (@Sendable () -> Void)?

    /// - Parameters:
    ///   - host: the host given to the entry function (used by handlers and to log hook failures).
    ///   - name: the module name used by `loadmodule`, `modparam`, dependencies and MI.
    public init(host: PluginHost, name: String, version: String, description: String = "") {
        self.host = host
        self.name = name
        self.version = version
        self.description = description
    }

    // MARK: Declarations

    /// Depends on another module: `.hard` (missing → startup error) or `.soft` (present → initialised first).
    public mutating func dependency(on module: String, _ kind: DependencyKind = .hard) {
        deps.append((module, UInt32(SY_DEP_MODULE.rawValue) | kind.flag))
    }

    /// Depends on any loaded DB driver module.
    public mutating func dependencyOnAnyDatabase(_ kind: DependencyKind = .hard) {
        deps.append((nil, UInt32(SY_DEP_ANY_DB.rawValue) | kind.flag))
    }

    /// A module parameter. `set` runs at startup, before init, once per `modparam` line; throw (e.g. `PluginError`) to
    /// refuse — the core prints "module M, parameter P: <message>". Without `.repeatable` a second line is refused.
    public mutating func param(_ name: String, _ type: ParamType, set: @escaping @Sendable (SYValue) throws -> Void) {
        params.append(ParamDecl(name: name, type: type, set: set))
    }

    /// A script function. `params` lists each parameter's spec in order (at most `SY_MAX_FUNC_PARAMS`); the handler
    /// returns >0 for success/true, <0 for failure/false, 0 to stop the script.
    ///
    /// `fixup` (ABI 1.11, OpenSIPS's fixup functions) checks each call site's literal arguments once at startup, after
    /// every module's init: throw `FixupError(argument:_:)` to stop startup with the file:line:col of that argument.
    public mutating func function(_ name: String, params: [FunctionParam], routes: RouteMask = .all,
                                  fixup: FunctionFixupCheck? = nil,
                                  _ handler: @escaping @Sendable (FunctionCall) -> Int32) {
        precondition(params.count <= Int(SY_MAX_FUNC_PARAMS), "\(name): more than \(SY_MAX_FUNC_PARAMS) parameters")
        funcs.append(FuncDecl(name: name, params: params, routes: routes, handler: handler, fixup: fixup))
    }

    /// A pseudo-variable class used as `$name(inner)`: `parse` turns the inner text into a parameter once at startup
    /// (throw to fail startup with file:line:col), `get`/`set` use it at run time on worker threads.
    ///
    /// With `count` and `getIndex` (ABI 1.2; give both or neither) the class also takes an index:
    /// `$(name(inner)[n])` reads `getIndex(n)` and `for ($it in $(name(inner)[*]))` walks `0..<count`. The core maps a
    /// negative `n` from the end (calling `count` first), so `getIndex` sees `0 <= n`; return nil when out of range
    /// (read as NULL). Both run on the calling context's thread, like `get`.
    ///
    /// `setRaw` (with `set`) sees the C value first, before it is copied into an `SYValue`: it reads it in place and
    /// returns the outcome, or nil to leave it to `set`. With `takesTrees` (ABI 1.9 SY_PV_OBJECT) it also receives the
    /// trees a script assigns with `$name(...) := $param(x)` (SY_VAL_OBJECT / SY_VAL_ARRAY; `set` never does: a tree
    /// it is not given reaches `set` as its JSON text).
    public mutating func pseudoVariable<P: Sendable>(
        _ name: String,
        parse: @escaping @Sendable (String) throws -> P,
        get: @escaping @Sendable (SYContext, P) -> SYValue,
        set: (@Sendable (SYContext, P, AssignOp, SYValue) -> Bool)? = nil,
        setRaw: (@Sendable (SYContext, P, AssignOp, UnsafePointer<sy_value>) -> Bool?)? = nil,
        takesTrees: Bool = false,
        count: (@Sendable (SYContext, P) -> Int64)? = nil,
        getIndex: (@Sendable (SYContext, P, Int64) -> SYValue?)? = nil,
        nameRequired: Bool = true
    ) {
        precondition((count == nil) == (getIndex == nil), "\(name): give both count and getIndex, or neither")
        // The parameter arrives as the PVParam that `parse` made, so it is a TypedPVParam<P>: reading it is a plain
        // pointer cast, where `as! P` from `any Sendable` was a dynamic cast on every access.
        var erasedSet: (@Sendable (SYContext, PVParam?, AssignOp, SYValue) -> Bool)? = nil
        if let set {
            erasedSet = { ctx, p, op, v in set(ctx, TypedPVParam<P>.value(of: p), op, v) }
        }
        var erasedSetRaw: (@Sendable (SYContext, PVParam?, AssignOp, UnsafePointer<sy_value>) -> Bool?)? = nil
        if let setRaw, set != nil {
            erasedSetRaw = { ctx, p, op, v in setRaw(ctx, TypedPVParam<P>.value(of: p), op, v) }
        }
        var erasedCount: (@Sendable (SYContext, PVParam?) -> Int64)? = nil
        var erasedGetIndex: (@Sendable (SYContext, PVParam?, Int64) -> SYValue?)? = nil
        if let count, let getIndex {
            erasedCount = { ctx, p in count(ctx, TypedPVParam<P>.value(of: p)) }
            erasedGetIndex = { ctx, p, i in getIndex(ctx, TypedPVParam<P>.value(of: p), i) }
        }
        pvars.append(PVDecl(name: name, nameRequired: nameRequired,
                            parse: { TypedPVParam<P>(try parse($0)) },
                            get: { ctx, p in get(ctx, TypedPVParam<P>.value(of: p)) },
                            set: erasedSet,
                            setRaw: erasedSetRaw,
                            takesTrees: takesTrees && erasedSetRaw != nil,
                            count: erasedCount,
                            getIndex: erasedGetIndex))
    }

    /// A pseudo-variable class with no `(...)` part: `$name`.
    public mutating func pseudoVariable(
        _ name: String,
        get: @escaping @Sendable (SYContext) -> SYValue,
        set: (@Sendable (SYContext, AssignOp, SYValue) -> Bool)? = nil
    ) {
        var erasedSet: (@Sendable (SYContext, PVParam?, AssignOp, SYValue) -> Bool)? = nil
        if let set {
            erasedSet = { ctx, _, op, v in set(ctx, op, v) }
        }
        pvars.append(PVDecl(name: name, nameRequired: false, parse: nil, get: { ctx, _ in get(ctx) }, set: erasedSet,
                            setRaw: nil, takesTrees: false, count: nil, getIndex: nil))
    }

    /// An MI command. `recipes` lists the accepted parameter-name sets (`[[]]` = no parameters; at most
    /// `SY_MI_MAX_PARAMS` names each). The handler runs on MI threads, concurrently, and returns the reply.
    public mutating func miCommand(_ name: String, help: String, recipes: [[String]] = [[]],
                                   namedParamsOnly: Bool = false,
                                   _ handler: @escaping @Sendable (MIRequest) -> MIReply) {
        for r in recipes {
            precondition(r.count <= Int(SY_MI_MAX_PARAMS), "\(name): more than \(SY_MI_MAX_PARAMS) MI parameters")
        }
        miCmds.append(MIDecl(name: name, help: help, recipes: recipes, namedOnly: namedParamsOnly, handler: handler))
    }

    /// An event the module raises (listed so `-c` and MI can show it).
    public mutating func event(_ name: String) {
        events.append(name)
    }

    /// init(): after every modparam is applied and dependencies are initialised. Throw to fail startup (logged at ERR).
    public mutating func onInit(_ body: @escaping @Sendable () throws -> Void) { initHook = body }
    /// child_init(rank): once per script worker before it serves. Throw to fail startup (logged at ERR).
    public mutating func onChildInit(_ body: @escaping @Sendable (Int32) throws -> Void) { childInitHook = body }
    /// destroy(): at shutdown, only if init succeeded.
    public mutating func onDestroy(_ body: @escaping @Sendable () -> Void) { destroyHook = body }

    // MARK: Build

    /// Allocates the C tables (once, never freed) and returns them.
    public func build() -> ModuleExports {
        var e = sy_module_exports()
        e.header = sy_table_header(abi_major: UInt32(SY_ABI_MAJOR), abi_minor: UInt32(SY_ABI_MINOR),
                                   struct_size: UInt32(MemoryLayout<sy_module_exports>.stride), reserved: 0)
        e.name = CMemory.string(name)
        e.version = CMemory.string(version)
        e.description = CMemory.string(description)

        e.deps = CMemory.list(deps.map { d in sy_dep_export(name: d.name.map(CMemory.string), flags: d.flags) })

        e.params = CMemory.list(params.map { p in
            var item = sy_param_export()
            item.name = CMemory.string(p.name)
            item.type = p.type.rawValue
            item.user = CMemory.retain(ParamBox(p.set))
            item.set = { value, user, err, errlen in
                let box = Unmanaged<ParamBox>.fromOpaque(user!).takeUnretainedValue()
                do {
                    try box.set(SYValue(copying: value))
                    return 0
                } catch {
                    writeError(String(describing: error), into: err, capacity: errlen)
                    return -1
                }
            }
            return item
        })

        e.funcs = CMemory.list(funcs.map { f in
            var item = sy_func_export()
            item.name = CMemory.string(f.name)
            item.nparams = UInt32(f.params.count)
            item.route_mask = f.routes.rawValue
            withUnsafeMutablePointer(to: &item.params) { tuple in
                tuple.withMemoryRebound(to: UInt32.self, capacity: Int(SY_MAX_FUNC_PARAMS)) { p in
                    for (i, spec) in f.params.enumerated() { p[i] = spec.rawValue }
                }
            }
            item.user = CMemory.retain(FuncBox(host: host, handler: f.handler, fixup: f.fixup.map(FixupBox.init)))
            if f.fixup != nil { item.fixup = FixupBridge.entry }
            item.handler = { ctx, args, nargs, user in
                guard let ctx else { return -1 }
                // Borrowed, not retained: the box lives as long as the module, and a retain per call is an atomic
                // write to an object every worker shares.
                return Unmanaged<FuncBox>.fromOpaque(user!)._withUnsafeGuaranteedRef { box in
                    box.handler(FunctionCall(context: SYContext(ctx), host: box.host,
                                             arguments: UnsafeBufferPointer(start: args, count: Int(nargs))))
                }
            }
            return item
        })

        e.pvars = CMemory.list(pvars.map { pv in
            var item = sy_pv_export()
            item.name = CMemory.string(pv.name)
            item.flags = (pv.nameRequired ? UInt32(SY_PV_NEEDS_NAME.rawValue) : 0)
                | (pv.set != nil ? UInt32(SY_PV_WRITABLE.rawValue) : 0)
                | (pv.takesTrees ? UInt32(SY_PV_OBJECT.rawValue) : 0)
            item.user = CMemory.retain(PVBox(pv))
            if pv.parse != nil {
                item.parse = { inner, paramOut, err, errlen, user in
                    let box = Unmanaged<PVBox>.fromOpaque(user!).takeUnretainedValue()
                    do {
                        let value = try box.decl.parse!(inner.string)
                        paramOut?.pointee = Unmanaged.passRetained(value).toOpaque()
                        return 0
                    } catch {
                        writeError(String(describing: error), into: err, capacity: errlen)
                        return -1
                    }
                }
                item.free_param = { param, _ in
                    if let param { Unmanaged<PVParam>.fromOpaque(param).release() }
                }
            }
            item.get = { ctx, param, out, user in
                let box = Unmanaged<PVBox>.fromOpaque(user!).takeUnretainedValue()
                guard let ctx, let out else { return -1 }
                let p = param.map { Unmanaged<PVParam>.fromOpaque($0).takeUnretainedValue() }
                let value = box.decl.get(SYContext(ctx), p)
                return value.write(to: out) { box.scratch.buffer($0) } ? 0 : -1
            }
            if pv.set != nil {
                item.set = { ctx, param, op, value, user in
                    let box = Unmanaged<PVBox>.fromOpaque(user!).takeUnretainedValue()
                    guard let ctx else { return -1 }
                    let p = param.map { Unmanaged<PVParam>.fromOpaque($0).takeUnretainedValue() }
                    if let raw = box.decl.setRaw, let value, let done = raw(SYContext(ctx), p, AssignOp(rawValue: op), value) {
                        return done ? 0 : -1
                    }
                    return box.decl.set!(SYContext(ctx), p, AssignOp(rawValue: op), SYValue(copying: value)) ? 0 : -1
                }
            }
            if pv.count != nil && pv.getIndex != nil {
                item.count = { ctx, param, user in
                    let box = Unmanaged<PVBox>.fromOpaque(user!).takeUnretainedValue()
                    guard let ctx else { return 0 }
                    let p = param.map { Unmanaged<PVParam>.fromOpaque($0).takeUnretainedValue() }
                    return box.decl.count!(SYContext(ctx), p)
                }
                item.get_index = { ctx, param, index, out, user in
                    let box = Unmanaged<PVBox>.fromOpaque(user!).takeUnretainedValue()
                    guard let ctx, let out else { return -1 }
                    let p = param.map { Unmanaged<PVParam>.fromOpaque($0).takeUnretainedValue() }
                    guard let value = box.decl.getIndex!(SYContext(ctx), p, index) else {
                        out.pointee = sy_value()
                        return -1
                    }
                    return value.write(to: out) { box.scratch.buffer($0) } ? 0 : -1
                }
            }
            return item
        })

        e.mi_cmds = CMemory.list(miCmds.map { mi in
            var item = sy_mi_export()
            item.name = CMemory.string(mi.name)
            item.help = CMemory.string(mi.help)
            item.flags = mi.namedOnly ? UInt32(SY_MI_NAMED_PARAMS_ONLY.rawValue) : 0
            let recipes = mi.recipes.map { names in
                var r = sy_mi_recipe()
                withUnsafeMutablePointer(to: &r.params) { tuple in
                    tuple.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: Int(SY_MI_MAX_PARAMS) + 1) { p in
                        for (i, n) in names.enumerated() { p[i] = CMemory.string(n) }
                    }
                }
                return r
            }
            item.nrecipes = UInt32(recipes.count)
            item.recipes = CMemory.array(recipes)
            item.user = CMemory.retain(MIBox(host: host, handler: mi.handler))
            item.handler = { call, user in
                let box = Unmanaged<MIBox>.fromOpaque(user!).takeUnretainedValue()
                guard let call else { return -1 }
                box.handler(MIRequest(raw: call, host: box.host)).send(call, host: box.host)
                return 0
            }
            return item
        })

        e.events = CMemory.list(events.map { sy_event_export(name: CMemory.string($0)) })
        e.protos = CMemory.list(protoDecls.map { $0.export() })
        e.pv_contexts = CMemory.list(contextDecls.map { $0.export() })

        e.user = CMemory.retain(HooksBox(host: host, initHook: initHook, childInitHook: childInitHook,
                                         destroyHook: destroyHook))
        e.`init` = { user in
            let box = Unmanaged<HooksBox>.fromOpaque(user!).takeUnretainedValue()
            do {
                try box.initHook?()
                return 0
            } catch {
                box.host.log(.err, "init failed: \(error)")
                return -1
            }
        }
        if childInitHook != nil {
            e.child_init = { rank, user in
                let box = Unmanaged<HooksBox>.fromOpaque(user!).takeUnretainedValue()
                do {
                    try box.childInitHook?(rank)
                    return 0
                } catch {
                    box.host.log(.err, "child_init(\(rank)) failed: \(error)")
                    return -1
                }
            }
        }
        if destroyHook != nil {
            e.destroy = { user in
                Unmanaged<HooksBox>.fromOpaque(user!).takeUnretainedValue().destroyHook?()
            }
        }

        if aliases.isEmpty {
            e.aliases = nil
        } else {
            e.aliases = CMemory.array(aliases.map { Optional(CMemory.string($0)) } + [nil])
        }

        return ModuleExports(pointer: CMemory.array([e])!)
    }
}

/// The built exports table. Its memory is never freed, so `pointer` stays valid even if this object is released;
/// keep it anyway (e.g. return `pointer` from the entry function and hold the object where you hold your state).
public final class ModuleExports: @unchecked Sendable {
    /// What the entry function returns.
    public let pointer: UnsafePointer<sy_module_exports>

    init(pointer: UnsafePointer<sy_module_exports>) {
        self.pointer = pointer
    }

    /// The module name as exported.
    public var name: String { pointer.pointee.name.map { String(cString: $0) } ?? "" }
}

// MARK: - Declarations and boxes (internal)

private struct ParamDecl {
    let name: String
    let type: ParamType
    let set: @Sendable (SYValue) throws -> Void
}

private struct FuncDecl {
    let name: String
    let params: [FunctionParam]
    let routes: RouteMask
    let handler: @Sendable (FunctionCall) -> Int32
    let fixup: FunctionFixupCheck?
}

struct PVDecl: Sendable {
    let name: String
    let nameRequired: Bool
    let parse: (@Sendable (String) throws -> PVParam)?
    let get: @Sendable (SYContext, PVParam?) -> SYValue
    let set: (@Sendable (SYContext, PVParam?, AssignOp, SYValue) -> Bool)?
    let setRaw: (@Sendable (SYContext, PVParam?, AssignOp, UnsafePointer<sy_value>) -> Bool?)?
    let takesTrees: Bool
    let count: (@Sendable (SYContext, PVParam?) -> Int64)?
    let getIndex: (@Sendable (SYContext, PVParam?, Int64) -> SYValue?)?
}

private struct MIDecl {
    let name: String
    let help: String
    let recipes: [[String]]
    let namedOnly: Bool
    let handler: @Sendable (MIRequest) -> MIReply
}

final class ParamBox: Sendable {
    let set: @Sendable (SYValue) throws -> Void
    init(_ set: @escaping @Sendable (SYValue) throws -> Void) { self.set = set }
}

final class FuncBox: Sendable {
    let host: PluginHost
    let handler: @Sendable (FunctionCall) -> Int32
    let fixup: FixupBox?
    init(host: PluginHost, handler: @escaping @Sendable (FunctionCall) -> Int32, fixup: FixupBox? = nil) {
        self.host = host
        self.handler = handler
        self.fixup = fixup
    }
}

final class PVBox: Sendable {
    let decl: PVDecl
    /// Per-thread buffer a getter's string is copied into: it must outlive the getter call (until the plugin is next
    /// called on the same thread), and getters run concurrently on several threads.
    let scratch = ThreadScratch()
    init(_ decl: PVDecl) { self.decl = decl }
}

/// A parsed pseudo-variable parameter, as the core holds it between `parse` and `free_param`. Subclassed only by
/// TypedPVParam, whose one stored property is immutable: that is what makes the unchecked Sendable true.
class PVParam: @unchecked Sendable {}

/// The parameter of a class declared with parameter type `P`.
final class TypedPVParam<P: Sendable>: PVParam, @unchecked Sendable { // immutable
    let value: P
    init(_ value: P) { self.value = value }

    /// The value of `p`, which the class's own `parse` made (the core hands each class only its own parameters).
    /// A missing parameter (a class that takes no name) reads as `nil` when `P` is optional, as `as! P` did.
    @inline(__always)
    static func value(of p: PVParam?) -> P {
        guard let p else { return Optional<any Sendable>.none as! P }
        return unsafeDowncast(p, to: TypedPVParam<P>.self).value
    }
}

final class MIBox: Sendable {
    let host: PluginHost
    let handler: @Sendable (MIRequest) -> MIReply
    init(host: PluginHost, handler: @escaping @Sendable (MIRequest) -> MIReply) {
        self.host = host
        self.handler = handler
    }
}

final class HooksBox: Sendable {
    let host: PluginHost
    let initHook: (@Sendable () throws -> Void)?
    let childInitHook: (@Sendable (Int32) throws -> Void)?
    let destroyHook: (@Sendable () -> Void)?
    init(host: PluginHost, initHook: (@Sendable () throws -> Void)?, childInitHook: (@Sendable (Int32) throws -> Void)?,
         destroyHook: (@Sendable () -> Void)?) {
        self.host = host
        self.initHook = initHook
        self.childInitHook = childInitHook
        self.destroyHook = destroyHook
    }
}

/// A growable byte buffer per thread (pthread key owned by this object; each thread's buffer is freed when the thread
/// exits). Lives as long as its PVBox, i.e. forever.
final class ThreadScratch: @unchecked Sendable {
    private let key: pthread_key_t
    private let valid: Bool
    private static let headerSize = 16 // capacity (Int), padded

    init() {
        var k = pthread_key_t()
        valid = pthread_key_create(&k, { block in free(block) }) == 0
        key = k
    }

    /// A buffer of at least `count` bytes owned by the calling thread, valid until its next call on this thread.
    func buffer(_ count: Int) -> UnsafeMutablePointer<UInt8>? {
        guard valid else { return nil }
        var block = pthread_getspecific(key)
        let capacity = block?.load(as: Int.self) ?? 0
        if block == nil || capacity < count {
            let newCapacity = Swift.max(count, 64, capacity * 2)
            guard let grown = realloc(block, newCapacity + Self.headerSize) else { return nil }
            grown.storeBytes(of: newCapacity, as: Int.self)
            guard pthread_setspecific(key, grown) == 0 else {
                free(grown)
                return nil
            }
            block = grown
        }
        return (block! + Self.headerSize).assumingMemoryBound(to: UInt8.self)
    }
}

/// Permanent C allocations: never freed (the exports must outlive every call the core may make).
enum CMemory {
    static func string(_ s: String) -> UnsafePointer<CChar> {
        let utf8 = Array(s.utf8)
        let p = UnsafeMutablePointer<CChar>.allocate(capacity: utf8.count + 1)
        for (i, b) in utf8.enumerated() { p[i] = CChar(bitPattern: b) }
        p[utf8.count] = 0
        return UnsafePointer(p)
    }

    static func array<T>(_ items: [T]) -> UnsafePointer<T>? {
        guard !items.isEmpty else { return nil }
        let p = UnsafeMutablePointer<T>.allocate(capacity: items.count)
        p.initialize(from: items, count: items.count)
        return UnsafePointer(p)
    }

    /// A sy_list over `items`; item_size is the C sizeof (Swift stride) of one element.
    static func list<T>(_ items: [T]) -> sy_list {
        guard let p = array(items) else { return sy_list(items: nil, count: 0, item_size: 0) }
        return sy_list(items: UnsafeRawPointer(p), count: UInt32(items.count), item_size: UInt32(MemoryLayout<T>.stride))
    }

    /// Retains `box` forever and returns it as a `void *user`.
    static func retain(_ box: AnyObject) -> UnsafeMutableRawPointer {
        Unmanaged.passRetained(box).toOpaque()
    }
}
