import Foundation
import SwitchyardABI
import SwitchyardMI
import Synchronization

/// The host functions of ABI 1.6 that spare C plugin authors hand-written code: a C99 atomic
/// counter and the MI reply builder.
extension HostTable {
    static func installAuthoring(_ h: inout sy_host_api) {
        h.atomic_add = { cell, delta in
            guard let cell else { return 0 }
            // Atomic<Int64> has Int64's size and alignment: the plugin's 8-byte aligned int64_t is
            // operated on in place (the header requires every access to it to go through here).
            let atomic = UnsafeMutableRawPointer(cell).assumingMemoryBound(to: Atomic<Int64>.self)
            return atomic.pointee.wrappingAdd(delta, ordering: .sequentiallyConsistent).newValue
        }

        h.atomic_swap = { cell, value in
            guard let cell else { return 0 }
            let atomic = UnsafeMutableRawPointer(cell).assumingMemoryBound(to: Atomic<Int64>.self)
            return atomic.pointee.exchange(value, ordering: .sequentiallyConsistent)
        }

        h.mi_add_object = { call, key in
            guard let call else { return -1 }
            let k = HostTable.cString(key)
            return MICallBox.from(call).build { $0.openObject(k) }
        }

        h.mi_add_array = { call, key in
            guard let call else { return -1 }
            let k = HostTable.cString(key)
            return MICallBox.from(call).build { $0.openArray(k) }
        }

        h.mi_end = { call in
            guard let call else { return -1 }
            return MICallBox.from(call).build { $0.close() }
        }

        h.mi_add_str = { call, key, s, len in
            guard let call else { return -1 }
            let k = HostTable.cString(key)
            let value: JSONValue
            if let s {
                // size_t arrives as Int: SY_CSTR ((size_t)-1) is -1; any other "negative" length is a bug.
                guard len >= -1 else { return -1 }
                let n = len == -1 ? strlen(s) : len
                value = .string(String(decoding: UnsafeRawBufferPointer(start: s, count: n), as: UTF8.self))
            } else {
                value = .null
            }
            return MICallBox.from(call).build { $0.add(k, value) }
        }

        h.mi_add_int = { call, key, v in
            guard let call else { return -1 }
            let k = HostTable.cString(key)
            return MICallBox.from(call).build { $0.add(k, .int(v)) }
        }

        h.mi_add_bool = { call, key, v in
            guard let call else { return -1 }
            let k = HostTable.cString(key)
            return MICallBox.from(call).build { $0.add(k, .bool(v != 0)) }
        }

        h.mi_add_null = { call, key in
            guard let call else { return -1 }
            let k = HostTable.cString(key)
            return MICallBox.from(call).build { $0.add(k, .null) }
        }
    }
}
