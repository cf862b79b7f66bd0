import Foundation
import ForesightWire

/// A preprocessed modality: float32 values in row-major order with their shape.
public struct PreprocessedTensor: Sendable, Equatable {
    /// Dimensions, outermost first (e.g. [3, 224, 224] or [64, 256]).
    public var shape: [Int]
    /// The values, `shape.reduce(1, *)` of them.
    public var values: [Float]

    /// Creates a tensor.
    public init(shape: [Int], values: [Float]) { self.shape = shape; self.values = values }
}

/// What one modality's processor gives for a frame: the model tensor and, for LiDAR and beam
/// power, what the classical predictor reads of the same input (computed in the same pass).
public struct ModalityOutput: Sendable, Equatable {
    /// The model-input tensor; nil when it was not asked for (a LiDAR cloud's site points alone,
    /// ``FrontEndConfiguration/modelInputs``).
    public var tensor: PreprocessedTensor?
    /// LiDAR: the points in the site frame (nil without a site pose).
    public var sitePoints: [SIMD3<Float>]?
    /// Beam power: the floored dBm vector the tensor was normalized from.
    public var dBm: [Float]?

    /// Creates an output.
    public init(tensor: PreprocessedTensor?, sitePoints: [SIMD3<Float>]? = nil, dBm: [Float]? = nil) {
        self.tensor = tensor; self.sitePoints = sitePoints; self.dBm = dBm
    }
}

/// A preprocessing function for one modality, usable inside a `PreprocessingStage`.
public protocol ModalityProcessing {
    /// The raw input for one frame: the modality's wire message (`Image`, `RadarCube`, …), read in place.
    associatedtype Input: Sendable
    /// Processes one input into a tensor.
    mutating func run(_ input: Input) throws(PreprocessError) -> PreprocessedTensor
    /// Processes one input into a tensor and what the classical predictor reads of it.
    mutating func runAll(_ input: Input) throws(PreprocessError) -> ModalityOutput
}

extension ModalityProcessing {
    /// The tensor alone (modalities whose classical view is the tensor itself).
    public mutating func runAll(_ input: Input) throws(PreprocessError) -> ModalityOutput {
        ModalityOutput(tensor: try run(input))
    }
}

/// An actor that owns one modality's preprocessor and runs it on its own dedicated thread
/// (custom executor), so several modalities proceed concurrently and heavy work stays off
/// the cooperative pool.
public actor PreprocessingStage<Processor: ModalityProcessing> {
    private var processor: Processor
    private let executor: DedicatedThreadExecutor
    private let ownsExecutor: Bool

    /// The executor the actor runs on.
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    /// Creates a stage on a new thread named `name`.
    public init(_ processor: sending Processor, name: String) {
        self.processor = processor
        self.executor = DedicatedThreadExecutor(name: name)
        self.ownsExecutor = true
    }

    /// Creates a stage sharing an existing executor (for light modalities such as GNSS).
    public init(_ processor: sending Processor, sharing executor: DedicatedThreadExecutor) {
        self.processor = processor
        self.executor = executor
        self.ownsExecutor = false
    }

    deinit {
        if ownsExecutor { executor.stop() }
    }

    /// The name of the thread the actor's code runs on (for tests and diagnostics).
    func currentThreadName() -> String? { DedicatedThreadExecutor.currentThreadName() }

    /// Processes one input on the stage's thread.
    public func process(_ input: Processor.Input) throws(PreprocessError) -> PreprocessedTensor {
        try processor.run(input)
    }

    /// Processes one input on the stage's thread: the tensor and the classical predictor's view.
    public func processAll(_ input: Processor.Input) throws(PreprocessError) -> ModalityOutput {
        try processor.runAll(input)
    }
}

extension CameraPreprocessor: ModalityProcessing {
    /// Processes a camera message (JPEG, decoded with the header the wire validation read, or raw
    /// pixels) into a [3, H, W] tensor; the image's bytes are read in place.
    public func run(_ input: Image) throws(PreprocessError) -> PreprocessedTensor {
        PreprocessedTensor(shape: [3, parameters.outputHeight, parameters.outputWidth], values: try process(image: input))
    }
}

extension RadarPreprocessor: ModalityProcessing {
    /// Processes a `sensor/radar` cube into an [angle, range] tensor.
    public func run(_ input: RadarCube) throws(PreprocessError) -> PreprocessedTensor {
        let values = try process(cube: input.data, rx: input.rx, samples: input.samples, chirps: input.chirps, type: input.dtype)
        return PreprocessedTensor(shape: [parameters.angleBins, input.samples], values: values)
    }
}

extension LidarPreprocessor: ModalityProcessing {
    /// Processes a `sensor/lidar` cloud into a [rows, columns] depth tensor.
    public func run(_ input: PointCloud) throws(PreprocessError) -> PreprocessedTensor {
        let values = try process(points: input.data, count: input.count, fields: input.fields)
        return PreprocessedTensor(shape: [parameters.rows, parameters.columns], values: values)
    }

    /// Processes a cloud into the depth tensor and (with a site pose) its points in the site frame.
    public func runAll(_ input: PointCloud) throws(PreprocessError) -> ModalityOutput {
        let (values, points) = try processWithSitePoints(points: input.data, count: input.count, fields: input.fields)
        return ModalityOutput(tensor: PreprocessedTensor(shape: [parameters.rows, parameters.columns], values: values), sitePoints: points)
    }
}

extension PreprocessingStage where Processor == LidarPreprocessor {
    /// A cloud's finite points in the site frame (nil without a site pose), without the depth image
    /// or the PCL filters: what the classical predictor reads of a LiDAR cloud.
    public func sitePoints(_ input: PointCloud) throws(PreprocessError) -> [SIMD3<Float>]? {
        try processor.sitePoints(points: input.data, count: input.count, fields: input.fields)
    }
}

extension GnssProjector: ModalityProcessing {
    /// Projects a `sensor/gnss` fix into a [2] tensor (east, north metres).
    public func run(_ input: GnssFix) throws(PreprocessError) -> PreprocessedTensor {
        let p = try project(latitude: input.lat, longitude: input.lon)
        return PreprocessedTensor(shape: [2], values: [Float(p.x), Float(p.y)])
    }
}

extension BeamPowerPreprocessor: ModalityProcessing {
    /// Converts a `sensor/beam_power` vector into a [beams] tensor.
    public func run(_ input: BeamPower) throws(PreprocessError) -> PreprocessedTensor {
        PreprocessedTensor(shape: [input.power.count], values: try process(power: input.power, unit: input.unit))
    }

    /// Converts a power vector into the [beams] tensor and the dBm vector it was normalized from.
    public func runAll(_ input: BeamPower) throws(PreprocessError) -> ModalityOutput {
        let (normalized, dBm) = try processWithDBm(power: input.power, unit: input.unit)
        return ModalityOutput(tensor: PreprocessedTensor(shape: [input.power.count], values: normalized), dBm: dBm)
    }
}
