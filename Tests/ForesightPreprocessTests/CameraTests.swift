import Foundation
import Testing
import CTurboJPEG
@testable import ForesightPreprocess

@Suite struct CameraTests {
    static func randomImage(width: Int, height: Int, bpp: Int, seed: UInt64) -> [UInt8] {
        var rng = SplitMix(seed: seed)
        return (0..<(width * height * bpp)).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    @Test(arguments: [
        (RawPixelEncoding.rgb8, "rgb8", 96, 54, PixelRect?.none),
        (RawPixelEncoding.bgr8, "bgr8", 300, 170, PixelRect?.none),
        (RawPixelEncoding.mono8, "mono8", 160, 90, PixelRect?.none),
        (RawPixelEncoding.rgb8, "rgb8", 320, 180, PixelRect(x: 40, y: 10, width: 180, height: 150)),
    ])
    func rawMatchesNumPyReference(encoding: RawPixelEncoding, name: String, width: Int, height: Int, crop: PixelRect?) throws {
        var params = CameraParameters()
        params.crop = crop
        let camera = try CameraPreprocessor(parameters: params)
        let image = Self.randomImage(width: width, height: height, bpp: encoding.bytesPerPixel, seed: UInt64(width))
        let ours = try camera.process(raw: image, width: width, height: height, encoding: encoding)
        let dir = try Reference.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        var args = ["camera", "--input", try Reference.write(image, "img.bin", in: dir),
                    "--width", "\(width)", "--height", "\(height)", "--encoding", name]
        if let crop { args += ["--crop", "\(crop.x),\(crop.y),\(crop.width),\(crop.height)"] }
        let expected = try Reference.run(args, dir: dir)
        #expect(ours.count == 3 * 224 * 224)
        let result = Reference.compare(ours, expected, absoluteFloor: 1e-4)
        #expect(result.bad == 0, "\(result.bad) values differ, worst \(result.worst)")
    }

    @Test func uniformColourNormalizesToKnownValues() throws {
        let camera = try CameraPreprocessor()
        let colour: [UInt8] = [255, 128, 0]
        let image: [UInt8] = (0..<(64 * 48 * 3)).map { colour[$0 % 3] }
        let out = try camera.process(raw: image, width: 64, height: 48, encoding: .rgb8)
        let plane = 224 * 224
        let red: Float = (1 - 0.485) / 0.229
        let green: Float = (128.0 / 255 - 0.456) / 0.224
        let blue: Float = -0.406 / 0.225
        #expect(abs(out[0] - red) < 1e-5)
        #expect(abs(out[plane + 500] - green) < 1e-5)
        #expect(abs(out[3 * plane - 1] - blue) < 1e-5)
    }

    static func encodeJPEG(_ rgb: [UInt8], width: Int, height: Int) throws -> [UInt8] {
        guard let handle = tjInitCompress() else { throw ReferenceFailure(message: "tjInitCompress") }
        defer { tjDestroy(handle) }
        var buffer: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        let status = rgb.withUnsafeBufferPointer { src in
            tjCompress2(handle, src.baseAddress, Int32(width), 0, Int32(height), Int32(TJPF_RGB.rawValue),
                        &buffer, &size, Int32(TJSAMP_444.rawValue), 95, 0)
        }
        defer { tjFree(buffer) }
        guard status == 0, let buffer else { throw ReferenceFailure(message: "tjCompress2 failed") }
        return Array(UnsafeBufferPointer(start: buffer, count: Int(size)))
    }

    @Test func jpegDecodesAndMatchesRawPathOnItsPixels() throws {
        let width = 120, height = 80
        // A smooth gradient survives JPEG well; compare JPEG path with raw path on the decoded pixels.
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height { for x in 0..<width {
            rgb[(y * width + x) * 3] = UInt8(x * 2); rgb[(y * width + x) * 3 + 1] = UInt8(y * 3); rgb[(y * width + x) * 3 + 2] = 100
        } }
        let jpeg = try Self.encodeJPEG(rgb, width: width, height: height)
        let camera = try CameraPreprocessor()
        let fromJPEG = try camera.process(jpeg: jpeg)
        let fromRaw = try camera.process(raw: rgb, width: width, height: height, encoding: .rgb8)
        let maxDiff = zip(fromJPEG, fromRaw).map { abs($0 - $1) }.max() ?? 1
        // JPEG at quality 95 stays within a few grey levels: 6/255/0.224 ≈ 0.1.
        #expect(maxDiff < 0.1)
    }

    @Test(arguments: [PixelRect?.none, PixelRect(x: 100, y: 40, width: 600, height: 400)])
    func reducedJPEGDecodeStaysCloseToFullDecode(crop: PixelRect?) throws {
        let width = 960, height = 540
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height { for x in 0..<width {
            let i = (y * width + x) * 3
            rgb[i] = UInt8(x / 4); rgb[i + 1] = UInt8(y * 255 / height); rgb[i + 2] = UInt8((x + y) / 6)
        } }
        let jpeg = try Self.encodeJPEG(rgb, width: width, height: height)
        var params = CameraParameters()
        params.crop = crop
        let full = try CameraPreprocessor(parameters: params).process(jpeg: jpeg)
        params.reducedJPEGDecode = true
        let reduced = try CameraPreprocessor(parameters: params).process(jpeg: jpeg)
        let meanDiff = zip(full, reduced).map { abs($0 - $1) }.reduce(0, +) / Float(full.count)
        // A smooth image: within a couple of grey levels on average (1/255/0.224 ≈ 0.0175 per level);
        // a misplaced crop or wrong scale would shift the gradients by far more.
        #expect(meanDiff < 0.02, "mean |full − reduced| = \(meanDiff)")
    }

    @Test func truncatedJPEGIsRejected() throws {
        let rgb = Self.randomImage(width: 64, height: 64, bpp: 3, seed: 7)
        let jpeg = try Self.encodeJPEG(rgb, width: 64, height: 64)
        let camera = try CameraPreprocessor()
        #expect(throws: PreprocessError.self) { try camera.process(jpeg: Array(jpeg.prefix(jpeg.count / 2))) }
        #expect(throws: PreprocessError.self) { try camera.process(jpeg: [0xFF, 0xD8, 0x00]) }
        #expect(throws: PreprocessError.self) { try camera.process(jpeg: []) }
    }

    @Test func wrongSizesAndLimitsAreRejected() throws {
        var params = CameraParameters()
        params.maxInputWidth = 100
        let camera = try CameraPreprocessor(parameters: params)
        #expect(throws: PreprocessError.sizeMismatch(modality: .camera, expected: 30, actual: 29)) {
            try camera.process(raw: [UInt8](repeating: 0, count: 29), width: 5, height: 2, encoding: .rgb8)
        }
        #expect(throws: PreprocessError.self) {
            try camera.process(raw: [UInt8](repeating: 0, count: 101 * 3), width: 101, height: 1, encoding: .rgb8)
        }
        params.crop = PixelRect(x: 0, y: 0, width: 50, height: 50)
        let cropping = try CameraPreprocessor(parameters: params)
        #expect(throws: PreprocessError.self) {
            try cropping.process(raw: [UInt8](repeating: 0, count: 40 * 40 * 3), width: 40, height: 40, encoding: .rgb8)
        }
        var badStd = CameraParameters()
        badStd.std = [0.2, 0, 0.2]
        #expect(throws: PreprocessError.self) { try CameraPreprocessor(parameters: badStd) }
    }
}
