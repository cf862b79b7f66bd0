import Foundation
import Testing
@testable import ForesightInterop

/// A `.npy` file as NumPy writes it (version 1.0, header padded to a multiple of 64 bytes).
func npyBytes(descr: String, fortran: Bool = false, shape: [Int], data: [UInt8], version: UInt8 = 1) -> [UInt8] {
    let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    var header = "{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': \(shapeText), }"
    let prefix = version == 1 ? 10 : 12
    while (prefix + header.utf8.count + 1) % 64 != 0 { header += " " }
    header += "\n"
    var out: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, version, 0]
    let n = header.utf8.count
    if version == 1 { out += [UInt8(n & 0xff), UInt8(n >> 8)] } else { out += [UInt8(n & 0xff), UInt8((n >> 8) & 0xff), 0, 0] }
    return out + Array(header.utf8) + data
}

@Suite struct NPYTests {
    @Test func readsComplex64CubeInCOrder() throws {
        let values: [Float] = (0..<(2 * 3 * 4 * 2)).map { Float($0) }
        let data = values.withUnsafeBytes { Array($0) }
        let array = try NPYArray.parse(npyBytes(descr: "<c8", shape: [2, 3, 4], data: data), path: "t.npy")
        #expect(array.shape == [2, 3, 4])
        #expect(array.itemSize == 8)
        #expect(array.data == data)
    }

    @Test func version2HeaderIsRead() throws {
        let data = [UInt8](repeating: 1, count: 16)
        let array = try NPYArray.parse(npyBytes(descr: "<f4", shape: [4], data: data, version: 2), path: "t.npy")
        #expect(array.shape == [4])
    }

    @Test func fortranOrderIsReorderedToC() throws {
        // A 2×3 int16 matrix [[1,2,3],[4,5,6]] stored column-major: 1 4 2 5 3 6.
        let column: [Int16] = [1, 4, 2, 5, 3, 6]
        let array = try NPYArray.parse(npyBytes(descr: "<i2", fortran: true, shape: [2, 3], data: column.withUnsafeBytes { Array($0) }), path: "t.npy")
        let c = array.data.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
        #expect(c == [1, 2, 3, 4, 5, 6])
    }

    @Test func malformedFilesAreNamedErrors() {
        let good = npyBytes(descr: "<c8", shape: [1, 2, 2], data: [UInt8](repeating: 0, count: 32))
        // Truncated data.
        #expect(throws: InteropError.self) { try NPYArray.parse(Array(good.dropLast(3)), path: "t.npy") }
        // Extra data.
        #expect(throws: InteropError.self) { try NPYArray.parse(good + [0], path: "t.npy") }
        // Bad magic.
        #expect(throws: InteropError.self) { try NPYArray.parse([0x00] + Array(good.dropFirst()), path: "t.npy") }
        // Big-endian and object dtypes.
        #expect(throws: InteropError.self) { try NPYArray.parse(npyBytes(descr: ">c8", shape: [1], data: [UInt8](repeating: 0, count: 8)), path: "t.npy") }
        #expect(throws: InteropError.self) { try NPYArray.parse(npyBytes(descr: "|O", shape: [1], data: [UInt8](repeating: 0, count: 8)), path: "t.npy") }
        // A shape whose product overflows.
        #expect(throws: InteropError.self) {
            try NPYArray.parse(npyBytes(descr: "<c8", shape: [1 << 40, 1 << 40], data: []), path: "t.npy")
        }
        // A header claiming more bytes than the file has.
        var cut = good
        cut[8] = 0xff; cut[9] = 0xff
        #expect(throws: InteropError.self) { try NPYArray.parse(cut, path: "t.npy") }
        // A MATLAB file says so.
        do {
            _ = try NPYArray.parse(Array("MATLAB 5.0 MAT-file, Platform: GLNXA64".utf8), path: "r.mat")
            Issue.record("expected an error")
        } catch {
            #expect(error.kind == "unsupported_format")
        }
    }
}

@Suite struct PLYTests {
    func parse(_ text: String) throws -> PLYCloud {
        try PLYCloud.parse(Array(text.utf8) + [0], path: "t.ply")
    }

    @Test func readsASCIIVerticesWithIntensity() throws {
        let cloud = try parse("""
        ply
        format ascii 1.0
        comment written by a test
        element vertex 3
        property double x
        property double y
        property double z
        property double intensity
        element face 0
        property list uchar int vertex_indices
        end_header
        1.5 -2.25 3e-1 10
        -0.000125 4 5.0 0
        nan 1 2 3

        """)
        #expect(cloud.fields == ["x", "y", "z", "intensity"])
        #expect(cloud.values == [1.5, -2.25, 0.3, 10, -0.000125, 4, 5, 0])
        #expect(cloud.declared == 3)
        #expect(cloud.droppedNonFinite == 1)
    }

    @Test func exactFloat32RoundTripThroughSeventeenDigitText() throws {
        // Float32 values printed as the shortest round-trip float64 text come back bit-identical.
        var rng = SystemRandomNumberGenerator()
        var lines: [String] = []
        var expected: [Float] = []
        for _ in 0..<500 {
            let v = (0..<3).map { _ in Float(bitPattern: UInt32.random(in: 0x3000_0000...0x4700_0000, using: &rng)) * (Bool.random() ? 1 : -1) }
            expected += v
            lines.append(v.map { "\(Double($0))" }.joined(separator: " "))
        }
        let text = "ply\nformat ascii 1.0\nelement vertex 500\nproperty double x\nproperty double y\nproperty double z\nend_header\n" + lines.joined(separator: "\n") + "\n"
        let cloud = try parse(text)
        #expect(cloud.values.map(\.bitPattern) == expected.map(\.bitPattern))
    }

    @Test func malformedCloudsAreNamedErrors() {
        let header = "ply\nformat ascii 1.0\nelement vertex 2\nproperty float x\nproperty float y\nproperty float z\nend_header\n"
        #expect(throws: InteropError.self) { try parse(header + "1 2 3\n") }             // cut off
        #expect(throws: InteropError.self) { try parse(header + "1 2 3\n4 5\n") }        // short row
        #expect(throws: InteropError.self) { try parse(header + "1 2 3 4\n4 5 6\n") }    // long row
        #expect(throws: InteropError.self) { try parse(header + "1 2 x\n4 5 6\n") }      // not a number
        #expect(throws: InteropError.self) { try parse("ply\nformat binary_little_endian 1.0\nelement vertex 0\nend_header\n") }
        #expect(throws: InteropError.self) { try parse("ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\nend_header\n1 2\n") }
        #expect(throws: InteropError.self) { try parse("not a ply\n") }
    }
}

@Suite struct DeepSenseTimeTests {
    @Test func bracketedTimeOfDay() {
        let expected: Int64 = ((10 * 60 + 12) * 60 + 35) * 1_000_000_000 + 178_930_000
        #expect(DeepSenseTime.timeOfDay("['10-12-35.178930']") == expected)
        #expect(DeepSenseTime.timeOfDay("23:59:59.5") == 86_399_500_000_000)
        #expect(DeepSenseTime.timeOfDay("00-00-00") == 0)
        #expect(DeepSenseTime.timeOfDay("24-00-00.0") == nil)
        #expect(DeepSenseTime.timeOfDay("10-61-00.0") == nil)
        #expect(DeepSenseTime.timeOfDay("10-12") == nil)
        #expect(DeepSenseTime.timeOfDay("10-12-35.1x") == nil)
    }

    @Test func calendarDates() {
        #expect(DeepSenseTime.days("1970-01-01") == 0)
        #expect(DeepSenseTime.days("2026-01-01") == 20454)
        #expect(DeepSenseTime.days("2024-02-29") != nil)
        #expect(DeepSenseTime.days("2023-02-29") == nil)
        #expect(DeepSenseTime.days("2023-13-01") == nil)
    }

    @Test func numberScannerMatchesStrtod() {
        let samples = ["0", "-0.5", "1e3", "123456789012345678", "3.14159265358979323846", "1.7976931348623157e308",
                       "4.9e-324", "0.1", "-2.5E-3", "nan", "inf", "1234.5678"]
        for text in samples {
            let bytes = Array(text.utf8) + [0]
            let value = bytes.withUnsafeBufferPointer { buffer -> Double? in
                var scanner = NumberScanner(buffer)
                return scanner.number()
            }
            let reference = strtod(text, nil)
            if reference.isNaN { #expect(value?.isNaN == true) } else { #expect(value == reference, "\(text)") }
        }
    }
}
