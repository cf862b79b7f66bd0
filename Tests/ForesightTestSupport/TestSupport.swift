import Foundation
import ForesightWire

/// Helpers shared by Foresight's test targets: the package root, the project's Python, child processes.
public enum TestSupport {
    /// The package root (the folder holding Package.swift).
    public static let packageRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    }()

    /// The virtual environment's Python (created by Tools/setup.sh).
    public static var python: String { packageRoot.appendingPathComponent(".venv/bin/python").path }

    /// The `foresight` executable built with the tests (`swift build --build-tests`).
    public static var foresightBinary: String { path(".build/debug/foresight") }

    /// A free TCP port on 127.0.0.1 (bound and released; good enough for tests).
    public static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { ptr in
            ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        return ok ? Int(UInt16(bigEndian: addr.sin_port)) : Int.random(in: 20_000...59_000)
    }

    /// A path under the package root.
    public static func path(_ relative: String) -> String { packageRoot.appendingPathComponent(relative).path }

    /// A fresh temporary directory.
    public static func temporaryDirectory(_ label: String = "foresight-test") throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A loopback TCP endpoint with a port unlikely to collide between parallel tests.
    public static func tcpEndpoint() -> String {
        "tcp://127.0.0.1:\(Int.random(in: 20_000...59_000))"
    }

    /// An ipc endpoint in a fresh temporary path.
    public static func ipcEndpoint() -> String {
        "ipc://\(FileManager.default.temporaryDirectory.path)/foresight-\(UUID().uuidString.prefix(8)).sock"
    }

    /// The outcome of a finished child process.
    public struct Output: Sendable {
        /// Exit status.
        public var status: Int32
        /// Everything written to standard output.
        public var stdout: String
        /// Everything written to standard error.
        public var stderr: String
    }

    /// Runs a program to completion and captures its output.
    public static func run(_ executable: String, _ arguments: [String], stdin: Data? = nil) throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let input = Pipe()
        process.standardInput = stdin == nil ? nil : input
        try process.run()
        if let stdin {
            input.fileHandleForWriting.write(stdin)
            try input.fileHandleForWriting.close()
        }
        // Read both pipes concurrently so neither fills up.
        let errData = Locked(Data())
        let reader = Thread { errData.withLock { $0 = err.fileHandleForReading.readDataToEndOfFile() } }
        reader.start()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        while !reader.isFinished { Thread.sleep(forTimeInterval: 0.001) }
        return Output(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData.withLock { $0 }, as: UTF8.self))
    }

    /// Runs a script from `Tools/` with the project's Python.
    public static func runPython(_ script: String, _ arguments: [String], stdin: Data? = nil) throws -> Output {
        try run(python, [path("Tools/\(script)")] + arguments, stdin: stdin)
    }

    /// A child process whose standard output is read line by line while it runs.
    public final class Child: @unchecked Sendable {
        /// The process.
        public let process = Process()
        private let out = Pipe()
        private let lines = Locked<[String]>([])
        private let buffer = Locked(Data())

        /// Starts `executable` with `arguments`.
        public init(_ executable: String, _ arguments: [String]) throws {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            process.standardOutput = out
            process.standardError = FileHandle.standardError
            let lines = self.lines, buffer = self.buffer
            out.fileHandleForReading.readabilityHandler = { handle in
                let chunk = handle.availableData
                buffer.withLock { data in
                    data.append(chunk)
                    while let newline = data.firstIndex(of: 0x0a) {
                        let line = String(decoding: data[data.startIndex..<newline], as: UTF8.self)
                        data.removeSubrange(data.startIndex...newline)
                        lines.withLock { $0.append(line) }
                    }
                }
            }
            try process.run()
        }

        /// Starts a `Tools/` script with the project's Python.
        public static func python(_ script: String, _ arguments: [String]) throws -> Child {
            try Child(TestSupport.python, ["-u", TestSupport.path("Tools/\(script)")] + arguments)
        }

        /// The lines printed so far.
        public var output: [String] { lines.current }

        /// Waits until a printed line satisfies `predicate` (or the timeout passes).
        @discardableResult
        public func waitForLine(timeout: TimeInterval = 20, _ predicate: (String) -> Bool) -> String? {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                if let line = output.first(where: predicate) { return line }
                if !process.isRunning, let line = output.first(where: predicate) { return line }
                if !process.isRunning { return output.first(where: predicate) }
                Thread.sleep(forTimeInterval: 0.01)
            }
            return nil
        }

        /// Waits for the process to exit (or the timeout to pass) and returns its status.
        public func wait(timeout: TimeInterval = 30) -> Int32? {
            let deadline = Date().addingTimeInterval(timeout)
            while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
            if process.isRunning { return nil }
            Thread.sleep(forTimeInterval: 0.05)  // let the reader collect the last lines
            return process.terminationStatus
        }

        /// Terminates the process if it still runs: SIGTERM, then SIGKILL after `grace` seconds
        /// (a child can inherit a signal mask that blocks SIGTERM from the thread that spawned it).
        public func stop(grace: TimeInterval = 2) {
            if process.isRunning {
                process.terminate()
                if wait(timeout: grace) == nil { kill(process.processIdentifier, SIGKILL) }
            }
            _ = wait(timeout: 5)
            out.fileHandleForReading.readabilityHandler = nil
        }

        deinit { stop() }
    }
}
