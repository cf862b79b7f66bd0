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

/// Checks of output paths, made before any long work so a typo fails at once with a clear line.
enum OutputPath {
    /// A file about to be written (`-` is standard output): its folder must exist and be writable,
    /// and it must not be a folder.
    static func checkWritable(_ path: String, option: String) throws {
        guard path != "-" else { return }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw CLIError("\(option) \(path) is a folder; give a file name, e.g. \(path)/scores.json")
        }
        let parent = (path as NSString).deletingLastPathComponent
        let folder = parent.isEmpty ? "." : parent
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory) else {
            throw CLIError("\(option) \(path): the folder \(folder) does not exist; create it first (mkdir -p \(folder))")
        }
        guard isDirectory.boolValue else { throw CLIError("\(option) \(path): \(folder) is not a folder") }
        guard FileManager.default.isWritableFile(atPath: folder) else {
            throw CLIError("\(option) \(path): the folder \(folder) is not writable")
        }
    }

    /// A folder about to be filled: it may exist (as a folder) or be creatable.
    static func checkDirectory(_ path: String, option: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw CLIError("\(option) \(path) is an existing file, not a folder; give a folder name (it is created if missing)")
            }
            guard FileManager.default.isWritableFile(atPath: path) else { throw CLIError("\(option) \(path): the folder is not writable") }
            return
        }
        // Missing folders (and their parents) are created; a file on the way is not a folder.
        var parent = (path as NSString).deletingLastPathComponent
        while !parent.isEmpty, parent != "/" {
            if FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory) {
                if !isDirectory.boolValue { throw CLIError("\(option) \(path): \(parent) is a file, not a folder") }
                break
            }
            parent = (parent as NSString).deletingLastPathComponent
        }
    }

    /// A file-system error as a short reason (no Cocoa domain and code).
    static func reason(_ error: any Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        return ns.localizedDescription
    }
}

/// Byte counts for people: `1.7 GB`, `415 B` (decimal units, as `ls -lh --si` and disk vendors).
enum ByteSize {
    static func text(_ bytes: Double) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var value = bytes
        var unit = 0
        while value >= 1000, unit < units.count - 1 { value /= 1000; unit += 1 }
        return unit == 0 ? "\(Int(value)) B" : String(format: value < 10 ? "%.1f %@" : "%.0f %@", value, units[unit])
    }
}

/// Replaces the generic advice of a failed bind ("address already in use") with advice that fits
/// the command.
func advise(_ error: any Error, _ advice: String) -> any Error {
    if let bus = error as? BusError, bus.isAddressInUse { return bus.advising(advice) }
    return error
}
