import Foundation
import ForesightBus
import ForesightSite
import ForesightWire

/// A launch file: what the daemon subscribes to, how it synchronizes, which site calibration and
/// predictor it uses, and where it publishes (docs/launch.md).
///
/// Loading is strict: unknown keys and invalid values are rejected at start with an error that
/// names the key path, so a typo fails fast instead of silently using a default.
public struct LaunchFile: Sendable {
    /// Inputs: endpoints and the topic of each modality.
    public struct Inputs: Sendable {
        /// Endpoints to subscribe to.
        public var endpoints: [String]
        /// `connect` (default) or `bind`.
        public var bind: Bool
        /// Topic per modality (without the site prefix); every modality has one.
        public var topics: ModalityMap<String>
        /// Ground-truth topics to follow for the live view and online scores (empty to ignore truth).
        public var truthTopics: [String]
        /// Subscriber buffer (messages) before the oldest is dropped.
        public var buffer: Int
        /// Message size limits.
        public var limits: WireLimits
        /// CURVE certificates of the input socket (`inputs.security.curve`), nil for plain ZMTP.
        public var curve: CurveFiles? = nil

        /// Inputs with the loader's defaults: connect, the default topic of every modality, no truth
        /// topics, a 256-message buffer, default limits, plain ZMTP.
        public init(endpoints: [String], bind: Bool = false, topics: ModalityMap<String> = ModalityMap { $0.defaultTopic },
                    truthTopics: [String] = [], buffer: Int = 256, limits: WireLimits = WireLimits(), curve: CurveFiles? = nil) {
            self.endpoints = endpoints
            self.bind = bind
            self.topics = topics
            self.truthTopics = truthTopics
            self.buffer = buffer
            self.limits = limits
            self.curve = curve
        }
    }

    /// Synchronizer settings.
    public struct SyncSettings: Sendable {
        /// Messages kept per topic.
        public var queueSize: Int
        /// Largest span of one frame, ns.
        public var maxInterval: Int64
        /// ApproximateTime age penalty.
        public var agePenalty: Double
        /// After this long (stream time, ns) a partial frame is emitted.
        public var deadline: Int64
        /// A topic silent this long (ns) is reported dead.
        public var silence: Int64
        /// Sensor stamps further ahead than this of stream time (the newest stamp plus the wall
        /// time since it arrived) are rejected as `stamp_future`, ns.
        public var futureBound: Int64
        /// A forward stamp jump beyond this is a clock jump, ns.
        public var clockJump: Int64
        /// Modalities that must be present for a frame to be predicted from (others may be missing).
        public var required: [Modality]
        /// The shortest gap between two messages of one sensor, ns (0 = unknown). Lets
        /// ApproximateTime prove a set optimal without waiting for each sensor's next message.
        public var interMessageLowerBound: Int64

        /// Synchronizer settings (durations in ns) with the loader's defaults: queue 10, max interval
        /// 80 ms, age penalty 0.1, deadline 200 ms, silence 1 s, future bound 1 s, clock jump 10 s.
        public init(queueSize: Int = 10, maxInterval: Int64 = 80_000_000, agePenalty: Double = 0.1, deadline: Int64 = 200_000_000,
                    silence: Int64 = 1_000_000_000, futureBound: Int64 = 1_000_000_000, clockJump: Int64 = 10_000_000_000,
                    required: [Modality] = [], interMessageLowerBound: Int64 = 0) {
            self.queueSize = queueSize
            self.maxInterval = maxInterval
            self.agePenalty = agePenalty
            self.deadline = deadline
            self.silence = silence
            self.futureBound = futureBound
            self.clockJump = clockJump
            self.required = required
            self.interMessageLowerBound = interMessageLowerBound
        }
    }

    /// Predictor settings.
    public struct PredictorSettings: Sendable {
        /// The predictor kinds a launch file may name (docs/predictors.md).
        public static let kinds = ["classical-ctrv", "persistence", "learned", "gru"]
        /// One of ``kinds``.
        public var kind: String
        /// Model directory (config.json + model.safetensors) for `learned` and `gru`.
        public var modelDirectory: String?
        /// History frames fed to the predictor.
        public var history: Int
        /// Future steps predicted.
        public var horizon: Int
        /// Step between future frames, ns (~10 Hz).
        public var step: Int64
        /// Top-k beams published per step.
        public var topK: Int
        /// A gap between consecutive frames longer than this (ns) starts a new segment: a streaming
        /// model forgets its history (as after a clock jump or a publisher restart). The dataset's
        /// `segment` tensor follows the same rule.
        public var resetGap: Int64 = 1_000_000_000
        /// Threads that share each frame of a learned model: the inference thread plus the workers
        /// of its team, which split the tokenizers, attention heads and larger products. 1 by default:
        /// on a 2-core host the front end and the transport keep the other core busy, and a team member
        /// that loses its core stalls the whole frame (docs/performance.md, *The predict stage's tail*).
        public var threads: Int = 1
        /// OpenBLAS's own threads inside each product of a learned model (process-wide). The engine's
        /// products are small; 1 leaves the splitting to `threads` (more made OpenBLAS's workers spin).
        public var blasThreads: Int = 1

        /// Classical predictor: turn the radar map into detections as blockage evidence.
        public var radarDetections: Bool = false
        /// Classical predictor: give it the GNSS fix's and beam scan's own stamps instead of the frame stamp.
        public var memberStamps: Bool = false
        /// Whether this kind runs a model folder.
        public var usesModel: Bool { kind == "learned" || kind == "gru" }

        /// Predictor settings with the loader's defaults: classical CTRV, history 8, horizon 5,
        /// step 100 ms, top-3.
        public init(kind: String = "classical-ctrv", modelDirectory: String? = nil, history: Int = 8, horizon: Int = 5,
                    step: Int64 = 100_000_000, topK: Int = 3, resetGap: Int64 = 1_000_000_000, threads: Int = 1, blasThreads: Int = 1,
                    radarDetections: Bool = false, memberStamps: Bool = false) {
            self.kind = kind
            self.modelDirectory = modelDirectory
            self.history = history
            self.horizon = horizon
            self.step = step
            self.topK = topK
            self.resetGap = resetGap
            self.threads = threads
            self.blasThreads = blasThreads
            self.radarDetections = radarDetections
            self.memberStamps = memberStamps
        }
    }

    /// Camera preprocessing settings of the launch file (`preprocess.camera`).
    public struct CameraSettings: Sendable, Equatable {
        /// Output width of the camera tensor, pixels.
        public var width: Int = 224
        /// Output height of the camera tensor, pixels.
        public var height: Int = 224
        /// Decode JPEGs at a reduced DCT scale before resizing (faster; not bit-identical).
        public var reducedJPEGDecode: Bool = false

        /// The loader's defaults: 224×224, full-scale decode.
        public init() {}
    }

    /// Output settings.
    public struct Output: Sendable {
        /// Endpoint the predictions are published on.
        public var endpoint: String
        /// `bind` (default) or `connect`.
        public var bind: Bool
        /// Prefix put before every output topic.
        public var prefix: String
        /// Whether `fusion/frame` is published for every frame.
        public var publishFrames: Bool
        /// Diagnostics period, ns (default 1 s).
        public var diagnosticsPeriod: Int64
        /// CURVE certificates of the output socket (`output.security.curve`), nil for plain ZMTP.
        public var curve: CurveFiles? = nil

        /// Output settings with the loader's defaults: bind, no prefix, `fusion/frame` published,
        /// diagnostics every second, plain ZMTP.
        public init(endpoint: String, bind: Bool = true, prefix: String = "", publishFrames: Bool = true,
                    diagnosticsPeriod: Int64 = 1_000_000_000, curve: CurveFiles? = nil) {
            self.endpoint = endpoint
            self.bind = bind
            self.prefix = prefix
            self.publishFrames = publishFrames
            self.diagnosticsPeriod = diagnosticsPeriod
            self.curve = curve
        }
    }

    /// Where the launch file was read from.
    public var path: String
    /// A short name for logs.
    public var name: String
    /// The site calibration file, resolved relative to the launch file.
    public var sitePath: String
    /// The loaded, validated site calibration.
    public var site: Site
    /// The site prefix of every input topic (e.g. `bs1/`).
    public var prefix: String
    /// Inputs.
    public var inputs: Inputs
    /// Synchronizer.
    public var sync: SyncSettings
    /// LiDAR filters (PCL): crop box, voxel leaf, outlier removal.
    public var lidarFilters: LidarFilterSettings
    /// Camera output size and decode mode.
    public var camera = CameraSettings()
    /// Predictor.
    public var predictor: PredictorSettings
    /// Outputs.
    public var output: Output
    /// Prometheus/health HTTP address (`host:port`), or nil when disabled.
    public var metricsAddress: String?
    /// The Foxglove live view (`foxglove:` key), or nil when the key is absent (off).
    public var foxglove: FoxgloveLiveSettings? = nil
    /// Log level (`trace` … `critical`).
    public var logLevel: String

    /// Full input topic of a modality (site prefix included).
    public func inputTopic(_ modality: Modality) -> String {
        prefix + inputs.topics[modality, default: modality.defaultTopic]
    }

    /// Full input topics of every modality, in frame order.
    public var inputTopics: [String] { Modality.allCases.map(inputTopic) }

    /// Loads and validates a launch file.
    public static func load(path: String) throws(ConfigError) -> LaunchFile {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        let base = URL(fileURLWithPath: absolute).deletingLastPathComponent()
        return try read(try ConfigNode.load(path: path), path: path, base: base) { sitePath throws(ConfigError) in
            try Site.load(path: sitePath)
        }
    }

    /// The built-in launch file (`launch/sim.yaml`, embedded in the executable) with the built-in
    /// site calibration: works from any folder.
    public static func builtin() throws(ConfigError) -> LaunchFile {
        let file = BuiltinDefaults.simLaunch
        let base = URL(fileURLWithPath: "/" + file.path).deletingLastPathComponent()
        return try read(try ConfigNode.parse(yaml: file.text, source: "built-in \(file.path)"), path: "built-in \(file.path)", base: base) { _ throws(ConfigError) in
            try Site.parse(yaml: BuiltinDefaults.simSite.text, source: "built-in \(BuiltinDefaults.simSite.path)")
        }
    }

    /// The endpoint schemes ZeroMQ accepts.
    static let endpointSchemes = ["tcp://", "ipc://", "inproc://", "pgm://", "epgm://", "ws://", "wss://"]

    /// Checks that `endpoint` (at key `key`) has a ZeroMQ scheme.
    static func checkEndpoint(_ endpoint: String, key: String) throws(ConfigError) {
        guard endpointSchemes.contains(where: endpoint.hasPrefix) else {
            let hint = endpoint.contains("://") ? "" : " (e.g. tcp://\(endpoint))"
            throw .invalid(key: key, reason: "'\(endpoint)' is not a ZeroMQ endpoint: it needs a scheme such as tcp:// or ipc://\(hint)")
        }
    }

    static func read(_ node: ConfigNode, path: String, base: URL,
                     loadSite: (String) throws(ConfigError) -> Site) throws(ConfigError) -> LaunchFile {
        let root = try node.mapping()
        func resolve(_ p: String) -> String { p.hasPrefix("/") ? p : base.appendingPathComponent(p).standardized.path }

        let name = try root.string("name", default: URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent)
        let siteValue = try root.string("site")
        let sitePath = resolve(siteValue)
        let site: Site
        do {
            site = try loadSite(sitePath)
        } catch {
            let relative = siteValue.hasPrefix("/") ? "" : " ('\(siteValue)' is relative to the launch file's folder \(base.path))"
            if case .unreadable = error {
                throw .invalid(key: "site", reason: "cannot read the site calibration \(sitePath)\(relative); fix the `site:` key or create the file (docs/calibration.md)")
            }
            throw .invalid(key: "site", reason: "in the site calibration \(sitePath) named by `site:`\(relative): \(error.description(doc: "docs/calibration.md"))")
        }
        let prefix = try root.optional("prefix").map { node throws(ConfigError) in try node.string() } ?? ""
        let logLevel = try root.string("log_level", default: "info", oneOf: ["trace", "debug", "info", "notice", "warning", "error", "critical"])

        // inputs
        let inputMap = try root.mapping("inputs")
        var endpoints: [String] = []
        for node in try inputMap.list("endpoints") {
            let endpoint = try node.string()
            try checkEndpoint(endpoint, key: node.path.isEmpty ? "inputs.endpoints" : node.path)
            endpoints.append(endpoint)
        }
        guard !endpoints.isEmpty else { throw inputMap.invalid("endpoints", "list at least one endpoint") }
        let inputBind = try inputMap.string("mode", default: "connect", oneOf: ["connect", "bind"]) == "bind"
        var topics = ModalityMap { $0.defaultTopic }
        if let topicNode = inputMap.optional("topics") {
            let topicMap = try topicNode.mapping()
            for modality in Modality.allCases {
                topics[modality] = try topicMap.string(modality.rawValue, default: modality.defaultTopic)
            }
            try topicMap.finish()
        }
        var truthTopics: [String] = []
        for node in try inputMap.list("truth", optional: true) { truthTopics.append(try node.string()) }
        let buffer = try inputMap.int("buffer", default: 256, in: 1...100_000)
        var limits = WireLimits()
        if let limitNode = inputMap.optional("limits") {
            let l = try limitNode.mapping()
            limits.maxPayloadBytes = try l.int("max_payload_bytes", default: limits.maxPayloadBytes, in: 1...(1 << 30))
            limits.maxImageDimension = try l.int("max_image_dimension", default: limits.maxImageDimension, in: 1...65_535)
            limits.maxPoints = try l.int("max_points", default: limits.maxPoints, in: 0...50_000_000)
            limits.maxRadarRx = try l.int("max_radar_rx", default: limits.maxRadarRx, in: 1...1024)
            limits.maxRadarSamples = try l.int("max_radar_samples", default: limits.maxRadarSamples, in: 1...65_536)
            limits.maxRadarChirps = try l.int("max_radar_chirps", default: limits.maxRadarChirps, in: 1...65_536)
            limits.maxBeams = try l.int("max_beams", default: limits.maxBeams, in: 1...65_536)
            limits.maxDepth = try l.int("max_depth", default: limits.maxDepth, in: 2...1024)
            try l.finish()
        }
        let inputCurve = try readSecurity(inputMap, resolve: resolve)
        try inputMap.finish()

        // sync
        func ms(_ v: Double) -> Int64 { Int64((v * 1_000_000).rounded()) }
        let syncMap = try root.optional("sync")?.mapping()
        let sync = SyncSettings(
            queueSize: try syncMap?.int("queue_size", default: 10, in: 1...10_000) ?? 10,
            maxInterval: ms(try syncMap?.double("max_interval_ms", default: 80, in: 0...60_000) ?? 80),
            agePenalty: try syncMap?.double("age_penalty", default: 0.1, in: 0...1000) ?? 0.1,
            deadline: ms(try syncMap?.double("deadline_ms", default: 200, in: 1...60_000) ?? 200),
            silence: ms(try syncMap?.double("silence_ms", default: 1000, in: 1...3_600_000) ?? 1000),
            futureBound: ms(try syncMap?.double("future_bound_ms", default: 1000, in: 1...3_600_000) ?? 1000),
            clockJump: ms(try syncMap?.double("clock_jump_ms", default: 10_000, in: 1...86_400_000) ?? 10_000),
            required: try syncMap.map { m throws(ConfigError) -> [Modality] in
                var out: [Modality] = []
                for node in try m.list("required", optional: true) {
                    let value = try node.string()
                    guard let modality = Modality(rawValue: value) else {
                        throw m.invalid("required", "'\(value)' is not a modality (\(Modality.allCases.map(\.rawValue).joined(separator: ", ")))")
                    }
                    out.append(modality)
                }
                return out
            } ?? [],
            interMessageLowerBound: ms(try syncMap?.double("inter_message_lower_bound_ms", default: 0, in: 0...60_000) ?? 0))
        try syncMap?.finish()

        // preprocessing
        var lidarFilters = LidarFilterSettings()
        var camera = CameraSettings()
        if let pre = try root.optional("preprocess")?.mapping() {
            if let lidar = try pre.optional("lidar")?.mapping() {
                lidarFilters = try LidarFilterSettings.read(lidar)
                try lidar.finish()
            }
            if let cam = try pre.optional("camera")?.mapping() {
                camera.width = try cam.int("width", default: 224, in: 16...1024)
                camera.height = try cam.int("height", default: 224, in: 16...1024)
                camera.reducedJPEGDecode = try cam.bool("reduced_jpeg_decode", default: false)
                try cam.finish()
            }
            try pre.finish()
        }

        // predictor
        let predMap = try root.optional("predictor")?.mapping()
        let kind = try predMap?.string("kind", default: "classical-ctrv", oneOf: PredictorSettings.kinds) ?? "classical-ctrv"
        let modelDirectory = try predMap?.optional("model").map { node throws(ConfigError) in resolve(try node.string()) }
        var predictor = PredictorSettings(
            kind: kind, modelDirectory: modelDirectory,
            history: try predMap?.int("history", default: 8, in: 2...64) ?? 8,
            horizon: try predMap?.int("horizon", default: 5, in: 1...64) ?? 5,
            step: ms(try predMap?.double("step_ms", default: 100, in: 1...10_000) ?? 100),
            topK: try predMap?.int("topk", default: 3, in: 1...site.mmwave.beams) ?? 3,
            radarDetections: try predMap?.bool("radar_detections", default: false) ?? false,
            memberStamps: try predMap?.bool("member_stamps", default: false) ?? false)
        if let predMap {
            predictor.resetGap = ms(try predMap.double("reset_gap_ms", default: 1000, in: 1...3_600_000))
            predictor.threads = try predMap.int("threads", default: 1, in: 1...64)
            predictor.blasThreads = try predMap.int("blas_threads", default: 1, in: 1...64)
            // The folder itself is loaded and checked against this file by the predictor factory
            // before the daemon binds any socket (a dataset can be generated before the model exists).
            if predictor.usesModel {
                guard modelDirectory != nil else { throw predMap.invalid("model", "a \(kind) predictor needs `model: DIR` (a folder with config.json and model.safetensors)") }
            } else if modelDirectory != nil {
                throw predMap.invalid("model", "only the learned and gru kinds take a model folder (kind is \(kind))")
            }
        }
        try predMap?.finish()

        // output
        let outMap = try root.mapping("output")
        let outputEndpoint = try outMap.string("endpoint")
        try checkEndpoint(outputEndpoint, key: "output.endpoint")
        var output = Output(
            endpoint: outputEndpoint,
            bind: try outMap.string("mode", default: "bind", oneOf: ["bind", "connect"]) == "bind",
            prefix: try outMap.optional("prefix").map { node throws(ConfigError) in try node.string() } ?? prefix,
            publishFrames: try outMap.bool("publish_frames", default: true),
            diagnosticsPeriod: ms(try outMap.double("diagnostics_period_ms", default: 1000, in: 10...3_600_000)))
        output.curve = try readSecurity(outMap, resolve: resolve)
        try outMap.finish()

        // metrics
        var metricsAddress: String? = "127.0.0.1:9464"
        if let metrics = root.optional("metrics") {
            let m = try metrics.mapping()
            let enabled = try m.bool("enabled", default: true)
            let address = try m.string("address", default: "127.0.0.1:9464")
            guard address.split(separator: ":").count == 2, let port = Int(address.split(separator: ":")[1]), (0...65_535).contains(port) else {
                throw m.invalid("address", "must be host:port, e.g. 127.0.0.1:9464 (got \(address))")
            }
            try m.finish()
            metricsAddress = enabled ? address : nil
        }

        let foxglove = try root.optional("foxglove").map { node throws(ConfigError) in try FoxgloveLiveSettings.read(try node.mapping()) }

        try root.finish()
        return LaunchFile(path: path, name: name, sitePath: sitePath, site: site, prefix: prefix,
                          inputs: Inputs(endpoints: endpoints, bind: inputBind, topics: topics, truthTopics: truthTopics,
                                         buffer: buffer, limits: limits, curve: inputCurve),
                          sync: sync, lidarFilters: lidarFilters, camera: camera, predictor: predictor, output: output,
                          metricsAddress: metricsAddress, foxglove: foxglove, logLevel: logLevel)
    }
}

/// Optional PCL filters applied to LiDAR clouds before projection.
public struct LidarFilterSettings: Sendable, Equatable {
    /// Keep only points inside this box (sensor frame, metres).
    public var cropMin: SIMD3<Float>?
    /// See `cropMin`.
    public var cropMax: SIMD3<Float>?
    /// Voxel-grid leaf size, metres.
    public var voxelLeaf: Float?
    /// Statistical outlier removal: neighbours and standard-deviation multiplier.
    public var outlierMeanK: Int?
    /// See `outlierMeanK`.
    public var outlierStddev: Double?

    /// No filters.
    public init() {}

    static func read(_ map: ConfigMapping) throws(ConfigError) -> LidarFilterSettings {
        var s = LidarFilterSettings()
        if let crop = try map.optional("crop_box")?.mapping() {
            let lo = try crop.doubles("min", count: 3), hi = try crop.doubles("max", count: 3)
            guard zip(lo, hi).allSatisfy({ $0 < $1 }) else { throw crop.invalid("max", "every max must exceed its min") }
            s.cropMin = SIMD3(Float(lo[0]), Float(lo[1]), Float(lo[2]))
            s.cropMax = SIMD3(Float(hi[0]), Float(hi[1]), Float(hi[2]))
            try crop.finish()
        }
        if map.optional("voxel_leaf_m") != nil { s.voxelLeaf = Float(try map.double("voxel_leaf_m", in: 0.001...100)) }
        if let outlier = try map.optional("outlier_removal")?.mapping() {
            s.outlierMeanK = try outlier.int("mean_k", default: 20, in: 1...1000)
            s.outlierStddev = try outlier.double("stddev", default: 2.0, in: 0.01...100)
            try outlier.finish()
        }
        return s
    }
}
