import Foundation
import ForesightTestSupport
import Testing
@testable import ForesightInterop

/// A hand-built Level 5 MAT-file with one double matrix (either byte order; the name in the
/// small data element format when it fits in 4 bytes), to test what SciPy does not write.
func handMadeMAT(bigEndian: Bool, name: String, dims: [Int32], real: [Double], imaginary: [Double]? = nil) -> [UInt8] {
    func u32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: bigEndian ? v.bigEndian : v.littleEndian) { Array($0) } }
    func u16(_ v: UInt16) -> [UInt8] { withUnsafeBytes(of: bigEndian ? v.bigEndian : v.littleEndian) { Array($0) } }
    func pad(_ b: [UInt8]) -> [UInt8] { b + [UInt8](repeating: 0, count: (8 - b.count % 8) % 8) }
    func element(_ type: UInt32, _ data: [UInt8]) -> [UInt8] {
        if data.count <= 4 && type != 14 {
            return u16(UInt16(data.count)).reversedIf(!bigEndian, pairedWith: u16(UInt16(type))) + data + [UInt8](repeating: 0, count: 4 - data.count)
        }
        return u32(type) + u32(UInt32(data.count)) + pad(data)
    }
    func doubles(_ v: [Double]) -> [UInt8] { v.flatMap { d in withUnsafeBytes(of: bigEndian ? d.bitPattern.bigEndian : d.bitPattern.littleEndian) { Array($0) } } }
    var header = Array("MATLAB 5.0 MAT-file, written by a Foresight test".utf8)
    header += [UInt8](repeating: 0x20, count: 116 - header.count)
    header += [UInt8](repeating: 0, count: 8)
    header += bigEndian ? [0x01, 0x00, 0x4D, 0x49] : [0x00, 0x01, 0x49, 0x4D]
    var body = element(6, u32(UInt32(6) | (imaginary == nil ? 0 : 0x0800)) + u32(0))
    body += element(5, dims.flatMap { u32(UInt32(bitPattern: $0)) })
    body += element(1, Array(name.utf8))
    body += element(9, doubles(real))
    if let imaginary { body += element(9, doubles(imaginary)) }
    return header + u32(14) + u32(UInt32(body.count)) + body
}

private extension Array where Element == UInt8 {
    /// The small element tag: in a little-endian file the 32-bit word is (count << 16 | type),
    /// i.e. the type's two bytes come first; big-endian writes the count first.
    func reversedIf(_ littleEndian: Bool, pairedWith type: [UInt8]) -> [UInt8] { littleEndian ? type + self : self + type }
}

@Suite(.serialized) struct MATFileTests {
    static let pythonReady = FileManager.default.isExecutableFile(atPath: TestSupport.python)

    /// SciPy-written files (compressed and not, single and double, integer classes, several
    /// variables) read bit-for-bit as NumPy's `astype(complex64)` of the same arrays.
    @Test(.enabled(if: pythonReady, "needs .venv with scipy (Tools/setup.sh)"))
    func scipyFilesReadBitForBitAsNumPy() throws {
        let dir = try TestSupport.temporaryDirectory("mat-fixtures")
        defer { try? FileManager.default.removeItem(at: dir) }
        let made = try TestSupport.runPython("make_mat_fixtures.py", [dir.path])
        try #require(made.status == 0, "\(made.stderr)")
        let cases: [(String, String?, String, [Int])] = [
            ("single_plain", nil, "single", [4, 256, 128]), ("single_zlib", nil, "single", [4, 256, 128]),
            ("double_plain", nil, "double", [4, 256, 128]), ("double_zlib", nil, "double", [4, 256, 128]),
            ("int16_real", nil, "int16", [2, 3, 5]), ("uint8_zlib", nil, "double", [4, 8, 6]), ("int64_real", nil, "int64", [3, 7]),
            ("named", "b", "single", [2, 3, 4]), ("data_and_other", nil, "single", [4, 16, 8]), ("odd_shape", nil, "single", [3, 1, 5, 2]),
        ]
        for (name, variable, matlabClass, shape) in cases {
            let path = dir.appendingPathComponent(name + ".mat").path
            let bytes = try FileBytes.read(path, limit: 1 << 30)
            let array = try MATFile.readComplex64(bytes, path: path, variable: variable)
            let expected = try NPYArray.parse(try FileBytes.read(dir.appendingPathComponent(name + ".expected.npy").path, limit: 1 << 30), path: name)
            #expect(expected.descr == "<c8")
            #expect(array.shape == shape, "\(name)")
            #expect(array.shape == expected.shape, "\(name)")
            #expect(array.matlabClass == matlabClass, "\(name)")
            #expect(array.data == expected.data, "\(name): values differ from NumPy's complex64")
        }
        // Two numeric arrays and no 'data': the reader asks for a name instead of guessing.
        let named = dir.appendingPathComponent("named.mat").path
        do {
            _ = try MATFile.readComplex64(try FileBytes.read(named, limit: 1 << 30), path: named)
            Issue.record("expected an error")
        } catch {
            #expect(error.kind == "bad_mat")
            #expect(error.description.contains("--radar-variable") && error.description.contains("named.mat"), "\(error)")
        }
        // A variable that is not there, and one that is not numeric.
        let int16 = dir.appendingPathComponent("int16_real.mat").path
        let int16Bytes = try FileBytes.read(int16, limit: 1 << 30)
        #expect(throws: InteropError.self) { try MATFile.readComplex64(int16Bytes, path: int16, variable: "nope") }
        #expect(throws: InteropError.self) { try MATFile.readComplex64(int16Bytes, path: int16, variable: "note") }
        let listed = try MATFile.variables(int16Bytes, path: int16)
        #expect(listed.map(\.name).sorted() == ["cube", "note"])
        #expect(listed.first { $0.name == "note" }?.matlabClass == "char")
    }

    /// Both byte orders, the small data element format and column-major order, on files built by hand.
    @Test func handMadeFilesInBothByteOrders() throws {
        // A 2×3 complex matrix [[1+10i, 2+20i, 3+30i], [4+40i, 5+50i, 6+60i]] stored column-major.
        let real: [Double] = [1, 4, 2, 5, 3, 6], imaginary = real.map { $0 * 10 }
        for bigEndian in [false, true] {
            let bytes = handMadeMAT(bigEndian: bigEndian, name: "x", dims: [2, 3], real: real, imaginary: imaginary)
            let array = try MATFile.readComplex64(bytes, path: "hand.mat")
            #expect(array.name == "x" && array.shape == [2, 3] && array.wasComplex)
            let values = array.data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            #expect(values == [1, 10, 2, 20, 3, 30, 4, 40, 5, 50, 6, 60], "big-endian \(bigEndian)")
        }
        // A longer name (normal element format) and a real array (imaginary parts 0).
        let long = try MATFile.readComplex64(handMadeMAT(bigEndian: false, name: "radar_cube", dims: [1, 2, 2], real: [1, 2, 3, 4]), path: "hand.mat")
        #expect(long.name == "radar_cube" && !long.wasComplex)
        #expect(long.data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) } == [1, 0, 3, 0, 2, 0, 4, 0])
    }

    /// Bad input: named errors (with the file's path), never a crash.
    @Test func malformedFilesAreNamedErrors() throws {
        let good = handMadeMAT(bigEndian: false, name: "data", dims: [2, 3], real: [1, 2, 3, 4, 5, 6])
        func kind(_ bytes: [UInt8], variable: String? = nil) -> String? {
            do {
                _ = try MATFile.readComplex64(bytes, path: "bad.mat", variable: variable)
                return nil
            } catch {
                #expect(error.description.contains("bad.mat"), "\(error)")
                return error.kind
            }
        }
        #expect(kind(good) == nil)
        // Every truncation of the file.
        for cut in stride(from: 0, to: good.count, by: 3) { #expect(kind(Array(good.prefix(cut))) != nil, "cut at \(cut)") }
        // Too few values for the dimensions.
        var lying = good
        lying[128 + 8 + 16 + 8] = 3  // dims [3, 3]: 9 values wanted, 6 present
        #expect(kind(lying) == "bad_mat")
        // v7.3 (HDF5), Level 4, a wrong endian indicator, a wrong version.
        var v73 = Array("MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 .".utf8)
        v73 += [UInt8](repeating: 0x20, count: 512 - v73.count)
        v73 += [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A] + [UInt8](repeating: 0, count: 64)
        #expect(kind(v73) == "mat_v73_hdf5")
        #expect(kind([UInt8](repeating: 0, count: 200)) == "bad_mat")
        var endian = good
        endian[126] = 0x41
        #expect(kind(endian) == "bad_mat")
        var version = good
        version[125] = 0x02
        #expect(kind(version) == "mat_v73_hdf5")
        // A corrupt and a cut-off compressed element.
        let payload = Array(good[128...])
        let compressed = try zlibCompress(payload)
        func compressedFile(_ z: [UInt8]) -> [UInt8] {
            var tag: [UInt8] = []
            withUnsafeBytes(of: UInt32(15).littleEndian) { tag += $0 }
            withUnsafeBytes(of: UInt32(z.count).littleEndian) { tag += $0 }
            return Array(good[..<128]) + tag + z
        }
        #expect(kind(compressedFile(compressed)) == nil)
        var corrupt = compressed
        corrupt[corrupt.count / 2] ^= 0xFF
        #expect(kind(compressedFile(corrupt)) == "bad_mat")
        #expect(kind(compressedFile(Array(compressed.dropLast(6)))) == "bad_mat")
        // Extra bytes inside the compressed stream after the matrix.
        #expect(kind(compressedFile(try zlibCompress(payload + [1, 2, 3, 4, 5, 6, 7, 8]))) == "bad_mat")
        // No numeric array at all.
        #expect(kind(Array(good[..<128])) == "bad_mat")
        // A file that is really a .npy.
        #expect(kind(npyBytes(descr: "<c8", shape: [1, 2, 2], data: [UInt8](repeating: 0, count: 32))) == "bad_mat")
    }
}

/// zlib-compresses bytes (with the zlib header, as MATLAB and SciPy write `miCOMPRESSED`), via Python's zlib.
func zlibCompress(_ bytes: [UInt8]) throws -> [UInt8] {
    let out = try TestSupport.run("/usr/bin/env", ["python3", "-c", "import base64, sys, zlib; print(base64.b64encode(zlib.compress(sys.stdin.buffer.read())).decode())"],
                                  stdin: Data(bytes))
    guard out.status == 0, let data = Data(base64Encoded: out.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else {
        throw InteropError.usage("python3 zlib failed: \(out.stderr)")
    }
    return Array(data)
}
