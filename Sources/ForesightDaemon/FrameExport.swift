import Foundation
import ForesightBag
import ForesightPreprocess
import ForesightWire
import Logging

/// `foresight preprocess`: assembles one frame of a bag with the synchronizer, preprocesses it
/// and writes what the model sees — `.npy` tensors, PNG pictures and `frame.json`.
public struct FrameExport {
    /// Which frame to export.
    public enum Selection: Sendable {
        /// The N-th frame the synchronizer assembles (0-based).
        case index(Int)
        /// The first frame whose stamp is at or after this one (ns).
        case stamp(Int64)
    }

    /// The launch file (synchronizer settings, site calibration).
    public let launch: LaunchFile

    /// Creates an exporter.
    public init(launch: LaunchFile) {
        self.launch = launch
    }

    /// Finds the frame, preprocesses it and writes the files into `directory`; returns the file names.
    public func export(bagPath: String, selection: Selection, directory: String) async throws -> [String] {
        let reader = try BagRecording(path: bagPath)
        let topics = Set(launch.inputTopics)
        let source = BagSource(cursor: try reader.messages { topics.contains($0.topic) }, progress: nil)
        var assembler = try FrameAssembler(launch: launch, counters: WireCounters())
        var found: RawFrame?
        var index = 0
        func matches(_ frame: RawFrame) -> Bool {
            defer { index += 1 }
            switch selection {
            case .index(let n): return index == n
            case .stamp(let s): return frame.stamp >= s
            }
        }
        outer: for message in source {
            for frame in assembler.accept(frames: message.frames, receiveTime: message.receiveTime).frames where matches(frame) {
                found = frame
                break outer
            }
        }
        if found == nil { found = assembler.flush().first(where: matches) }
        if let error = source.error { throw error }
        guard let raw = found else {
            switch selection {
            case .index(let n): throw LaunchError("the bag has only \(index) frames; --index \(n) is beyond them")
            case .stamp(let s): throw LaunchError("no frame at or after stamp \(s) (the bag has \(index) frames)")
            }
        }
        let frontEnd = try FramePreprocessor(configuration: try FrontEndSettings.configuration(for: launch))
        let frame = await frontEnd.process(raw)
        frontEnd.finish()
        let context = frame.header

        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var written: [String] = []
        func write(_ name: String, _ data: Data) throws {
            try data.write(to: URL(fileURLWithPath: directory).appendingPathComponent(name))
            written.append(name)
        }
        if let t = frame.tensors[.camera] {
            try write("camera.npy", NumpyFile.float32(t.values, shape: t.shape))
            try write("camera.png", PNGFile.rgb(fromNormalizedCHW: t.values, width: t.shape[2], height: t.shape[1]))
        }
        if let t = frame.tensors[.radar] {
            try write("radar.npy", NumpyFile.float32(t.values, shape: t.shape))
            try write("radar.png", PNGFile.grey(t.values, width: t.shape[1], height: t.shape[0]))
        }
        if let t = frame.tensors[.lidar] {
            try write("lidar.npy", NumpyFile.float32(t.values, shape: t.shape))
            try write("lidar.png", PNGFile.grey(t.values, width: t.shape[1], height: t.shape[0]))
        }
        if let t = frame.tensors[.gnss] { try write("gnss.npy", NumpyFile.float32(t.values, shape: [t.values.count])) }
        if let dB = frame.beamPowerDBm { try write("beam_power.npy", NumpyFile.float32(dB, shape: [dB.count])) }
        typealias J = JSONText.Value
        let summary: J = .object([
            ("bag", .string(bagPath)), ("frame_index", .int(Int64(index - 1))), ("stamp", .int(context.stamp)),
            ("reason", .string(context.reason.rawValue)),
            ("members", .array(context.members.map { m in
                .object([("modality", .string(m.modality)), ("topic", .string(m.topic)), ("stamp", .int(m.stamp)), ("seq", .uint(UInt64(m.seq)))])
            })),
            ("missing", .array(context.missing.map { .string($0.rawValue) })),
            ("rejected", .array(frame.failures.sorted { $0.key.rawValue < $1.key.rawValue }.map { f in
                .object([("modality", .string(f.key.rawValue)), ("error", .string("\(f.value)"))])
            })),
            ("files", .array(written.map { .string($0) })),
        ])
        try write("frame.json", Data(JSONText.document(summary).utf8))
        return written
    }
}

/// Writes NumPy `.npy` files (format 1.0, little-endian float32, C order).
public enum NumpyFile {
    /// An `.npy` file holding `values` with `shape`.
    public static func float32(_ values: [Float], shape: [Int]) -> Data {
        let dims = shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? "," : "")
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(dims)), }"
        // magic (6) + version (2) + length (2) + header, padded with spaces to a multiple of 64, ending in \n.
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var data = Data([0x93]) + Data("NUMPY".utf8) + Data([1, 0])
        let length = UInt16(header.utf8.count)
        data.append(contentsOf: [UInt8(length & 0xff), UInt8(length >> 8)])
        data.append(Data(header.utf8))
        data.append(Data(PackedArray.bytes(values)))
        return data
    }
}

/// Writes 8-bit PNG pictures (uncompressed deflate blocks: simple, valid, a few hundred KB).
public enum PNGFile {
    /// A grey picture of `values` scaled from their min…max to 0…255 (row-major, `height` rows).
    public static func grey(_ values: [Float], width: Int, height: Int) -> Data {
        let finite = values.filter(\.isFinite)
        let lo = finite.min() ?? 0, hi = finite.max() ?? 1
        let scale = hi > lo ? 255 / (hi - lo) : 0
        let pixels = values.map { v -> UInt8 in v.isFinite ? UInt8(max(0, min(255, ((v - lo) * scale).rounded()))) : 0 }
        return encode(pixels, width: width, height: height, colorType: 0, channels: 1)
    }

    /// An RGB picture from a normalized CHW camera tensor (undoing the ImageNet mean/std).
    public static func rgb(fromNormalizedCHW values: [Float], width: Int, height: Int) -> Data {
        let mean: [Float] = [0.485, 0.456, 0.406], std: [Float] = [0.229, 0.224, 0.225]
        let plane = width * height
        var pixels = [UInt8](repeating: 0, count: plane * 3)
        for c in 0..<3 {
            for i in 0..<plane where c * plane + i < values.count {
                let v = (values[c * plane + i] * std[c] + mean[c]) * 255
                pixels[i * 3 + c] = UInt8(max(0, min(255, v.rounded())))
            }
        }
        return encode(pixels, width: width, height: height, colorType: 2, channels: 3)
    }

    private static func encode(_ pixels: [UInt8], width: Int, height: Int, colorType: UInt8, channels: Int) -> Data {
        var raw = [UInt8]()
        raw.reserveCapacity((width * channels + 1) * height)
        for row in 0..<height {
            raw.append(0)  // filter: none
            raw.append(contentsOf: pixels[(row * width * channels)..<((row + 1) * width * channels)])
        }
        var zlib: [UInt8] = [0x78, 0x01]
        var offset = 0
        repeat {
            let n = min(65_535, raw.count - offset)
            zlib.append(offset + n == raw.count ? 1 : 0)
            zlib.append(contentsOf: [UInt8(n & 0xff), UInt8(n >> 8), UInt8(~n & 0xff), UInt8((~n >> 8) & 0xff)])
            zlib.append(contentsOf: raw[offset..<(offset + n)])
            offset += n
        } while offset < raw.count
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in raw { a = (a + UInt32(byte)) % 65_521; b = (b + a) % 65_521 }
        zlib.append(contentsOf: bigEndian((b << 16) | a))
        var png = Data([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
        png.append(chunk("IHDR", bigEndian(UInt32(width)) + bigEndian(UInt32(height)) + [8, colorType, 0, 0, 0]))
        png.append(chunk("IDAT", zlib))
        png.append(chunk("IEND", []))
        return png
    }

    private static func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)] }

    private static func chunk(_ type: String, _ body: [UInt8]) -> Data {
        let typed = Array(type.utf8) + body
        return Data(bigEndian(UInt32(body.count)) + typed + bigEndian(CRC32.checksum(typed)))
    }
}
