// esl-simulator: a fake FreeSWITCH speaking the Event Socket protocol byte-for-byte like 1.10.12.
// Plain POSIX sockets + threads. See README.md.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

signal(SIGPIPE, SIG_IGN)

let options: SimulatorOptions
do {
    options = try SimulatorOptions.parse(Array(CommandLine.arguments.dropFirst()))
} catch {
    say("esl-simulator: \(error)\n\(SimulatorOptions.usage)\n", fd: 2)
    exit(2)
}
if options.help {
    say(SimulatorOptions.usage + "\n")
    exit(0)
}
let simulator = Simulator(options: options)
do {
    try simulator.start()
} catch {
    say("esl-simulator: \(error)\n", fd: 2)
    exit(1)
}
say("esl-simulator: listening on \(options.host):\(simulator.port)" + (simulator.controlPort.map { " control \(options.host):\($0)" } ?? "") + "\n")
simulator.runForever()
