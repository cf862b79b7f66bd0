import ForesightPreprocess

extension LaunchFile {
    /// The preprocessing front end this launch file builds (site calibration + `preprocess` keys).
    public func frontEndConfiguration() throws -> FrontEndConfiguration {
        try FrontEndSettings.configuration(for: self)
    }

    /// The preprocessing version of this launch file's front end
    /// (``PreprocessingVersion/fingerprint(of:)``): recorded by `foresight dataset`, required of
    /// every learned model the daemon loads.
    public func preprocessingVersion() throws -> String {
        PreprocessingVersion.fingerprint(of: try frontEndConfiguration())
    }
}
