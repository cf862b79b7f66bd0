import Foundation
@testable import ForesightBag

/// Package root, found from this file's path.
let packageRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// A fresh temporary directory for one test.
func temporaryDirectory() -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("foresight-bag-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

struct ProcessResult {
    var status: Int32
    var stdout: Data
    var stderr: String
}

/// Runs `executable` with `arguments` and waits for it.
func run(_ executable: String, _ arguments: [String]) throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return ProcessResult(status: process.terminationStatus, stdout: outData,
                         stderr: String(decoding: errData, as: UTF8.self))
}

/// Runs a script under Tools/ with the package's .venv Python.
func python(_ script: String, _ arguments: [String]) throws -> ProcessResult {
    try run(packageRoot.appendingPathComponent(".venv/bin/python").path,
            [packageRoot.appendingPathComponent("Tools/\(script)").path] + arguments)
}

/// One message as the Python oracle describes it: topic, log time, publish time, sequence, sha256.
struct OracleMessage: Equatable, Hashable {
    var topic: String
    var logTime: UInt64
    var publishTime: UInt64
    var sequence: UInt32
    var sha256: String
}

func oracleMessages(_ json: Any?) -> [OracleMessage] {
    guard let rows = json as? [[Any]] else { return [] }
    return rows.compactMap { row in
        guard row.count == 5, let topic = row[0] as? String, let log = row[1] as? NSNumber,
              let pub = row[2] as? NSNumber, let seq = row[3] as? NSNumber, let hash = row[4] as? String else { return nil }
        return OracleMessage(topic: topic, logTime: log.uint64Value, publishTime: pub.uint64Value,
                             sequence: seq.uint32Value, sha256: hash)
    }
}

/// SHA-256 via the system `sha256sum`-free route: a small pure-Swift implementation for tests.
func sha256Hex(_ data: [UInt8]) -> String {
    var h: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
    let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]
    var msg = data
    let bitLength = UInt64(data.count) * 8
    msg.append(0x80)
    while msg.count % 64 != 56 { msg.append(0) }
    for i in (0..<8).reversed() { msg.append(UInt8((bitLength >> (UInt64(i) * 8)) & 0xFF)) }
    func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }
    var w = [UInt32](repeating: 0, count: 64)
    for block in stride(from: 0, to: msg.count, by: 64) {
        for i in 0..<16 {
            w[i] = UInt32(msg[block + 4 * i]) << 24 | UInt32(msg[block + 4 * i + 1]) << 16
                | UInt32(msg[block + 4 * i + 2]) << 8 | UInt32(msg[block + 4 * i + 3])
        }
        for i in 16..<64 {
            let s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
            let s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
            w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
        }
        var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7]
        for i in 0..<64 {
            let t1 = hh &+ (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) &+ ((e & f) ^ (~e & g)) &+ k[i] &+ w[i]
            let t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) &+ ((a & b) ^ (a & c) ^ (b & c))
            hh = g; g = f; f = e; e = d &+ t1; d = c; c = b; b = a; a = t1 &+ t2
        }
        h[0] &+= a; h[1] &+= b; h[2] &+= c; h[3] &+= d; h[4] &+= e; h[5] &+= f; h[6] &+= g; h[7] &+= hh
    }
    return h.map { String(format: "%08x", $0) }.joined()
}

/// A deterministic message stream over three topics for writer tests.
struct SampleStream {
    struct Item {
        var topic: String
        var schema: String
        var logTime: UInt64
        var publishTime: UInt64
        var sequence: UInt32
        var data: [UInt8]
    }

    static func make(count: Int, base: UInt64 = 1_763_900_000_000_000_000, payload: Int = 300) -> [Item] {
        let topics = [("sensor/camera", "Image"), ("sensor/gnss", "GnssFix"), ("sensor/radar", "RadarCube")]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        return (0..<count).map { i in
            let (topic, schema) = topics[i % topics.count]
            let size = payload + (i * 37) % 200
            var data = [UInt8](repeating: 0, count: size)
            for j in 0..<size {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                data[j] = j % 4 == 0 ? UInt8(truncatingIfNeeded: state >> 56) : UInt8(truncatingIfNeeded: i + j / 8)
            }
            let t = base + UInt64(i) * 3_333_333
            return Item(topic: topic, schema: schema, logTime: t, publishTime: t - 1_000_000,
                        sequence: UInt32(i / topics.count), data: data)
        }
    }

    /// Writes `items` with a BagWriter; schemas are JSON text named after the type.
    static func write(_ items: [Item], to path: String, options: BagWriterOptions) throws -> BagWriteSummary {
        let writer = try BagWriter(path: path, options: options)
        for item in items {
            let schema = try writer.addSchema(name: item.schema, encoding: "jsonschema",
                                              data: Array("{\"title\":\"\(item.schema)\",\"type\":\"object\"}".utf8))
            let channel = try writer.addChannel(topic: item.topic, messageEncoding: "msgpack", schemaID: schema)
            try writer.write(channelID: channel, sequence: item.sequence, logTime: item.logTime,
                             publishTime: item.publishTime, data: item.data)
        }
        return try writer.finish()
    }
}
