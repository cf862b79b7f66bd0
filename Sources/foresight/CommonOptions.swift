import ArgumentParser
import Dispatch
import ForesightBus
import ForesightWire
import Foundation

/// `--bind` / `--connect`: overrides a command's default socket mode.
struct SocketModeOptions: ParsableArguments {
    @Flag(help: "Bind the socket to the endpoint(s) (the default for publishers).")
    var bind = false

    @Flag(help: "Connect the socket to the endpoint(s) (the default for subscribers).")
    var connect = false

    func validate() throws {
        if bind && connect { throw ValidationError("--bind and --connect exclude each other") }
    }

    /// The mode to use, given the command's default.
    func mode(default fallback: EndpointMode) -> EndpointMode {
        bind ? .bind : connect ? .connect : fallback
    }
}

/// Turns SIGINT/SIGTERM into a flag and a callback, so long-running commands finish cleanly.
final class SignalTrap: Sendable {
    nonisolated(unsafe) private let sources: [any DispatchSourceSignal]  // set once in init, only kept alive
    private let fired = Locked(false)

    /// Installs handlers for `signals`; `onSignal` runs once, on a background queue.
    init(_ signals: [Int32] = [SIGINT, SIGTERM], onSignal: @escaping @Sendable (Int32) -> Void) {
        let fired = self.fired
        sources = signals.map { signo in
            signal(signo, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signo, queue: .global())
            source.setEventHandler {
                let first = fired.withLock { f -> Bool in defer { f = true }; return !f }
                if first { onSignal(signo) } else { exit(128 + signo) }
            }
            source.resume()
            return source
        }
    }

    /// Whether a signal arrived.
    var triggered: Bool { fired.current }
}



/// Writes a line to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// A command failure with a message a person can act on (printed without the usage text).
struct CLIError: Error, CustomStringConvertible {
    /// What went wrong and what to do.
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
