// Waiting on a condition with a deadline instead of a fixed sleep: a test goes on as soon as what it waits for has
// happened, and a slow (shared) machine makes it slower, not wrong.
import Foundation

/// Polls `condition` every `poll` seconds until it is true (returns true) or `timeout` has passed (returns false, after
/// one last check).
@discardableResult
public func waitUntil(timeout: TimeInterval = 10, poll: TimeInterval = 0.01, _ condition: () throws -> Bool) rethrows -> Bool {
    let end = Date().addingTimeInterval(timeout)
    while true {
        if try condition() { return true }
        if Date() >= end { return try condition() }
        usleep(UInt32(poll * 1_000_000))
    }
}

/// For a "nothing happens" check that has no later event proving it: true when `condition` stays true for the whole
/// `duration` (checked every `poll` seconds), false as soon as it turns false. Every caller says why no positive signal
/// exists; where one does, wait on it with `waitUntil` instead.
@discardableResult
public func holds(for duration: TimeInterval, poll: TimeInterval = 0.02, _ condition: () throws -> Bool) rethrows -> Bool {
    let end = Date().addingTimeInterval(duration)
    while Date() < end {
        if try !condition() { return false }
        usleep(UInt32(poll * 1_000_000))
    }
    return try condition()
}
