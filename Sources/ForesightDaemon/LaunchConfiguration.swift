import ForesightBus
import ForesightSite
import ForesightWire

// The launch model as a plain value: every part has a public initializer whose defaults are the
// YAML loader's defaults (docs/launch.md), so code and tests build a pipeline configuration
// without writing a file. `LaunchFile.load(path:)` stays the way a person configures the daemon.

extension LaunchFile {
    /// A launch configuration built in code. `site` is the loaded calibration (`sitePath` is only
    /// recorded, e.g. in dataset manifests); the metrics endpoint is off unless `metricsAddress`
    /// is given (the YAML loader's default is `127.0.0.1:9464`).
    public init(name: String = "in-code", site: Site, sitePath: String = "", prefix: String = "",
                inputs: Inputs, sync: SyncSettings = SyncSettings(), lidarFilters: LidarFilterSettings = LidarFilterSettings(),
                camera: CameraSettings = CameraSettings(), predictor: PredictorSettings = PredictorSettings(),
                output: Output, metricsAddress: String? = nil, foxglove: FoxgloveLiveSettings? = nil, logLevel: String = "info") {
        self.init(path: "in code (\(name))", name: name, sitePath: sitePath, site: site, prefix: prefix, inputs: inputs, sync: sync,
                  lidarFilters: lidarFilters, camera: camera, predictor: predictor, output: output,
                  metricsAddress: metricsAddress, foxglove: foxglove, logLevel: logLevel)
    }
}
