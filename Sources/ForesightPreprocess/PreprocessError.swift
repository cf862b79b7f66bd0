import ForesightCore

/// Why a preprocessing stage rejected its input. Every case says what is wrong and what to do.
public enum PreprocessError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The input byte count does not match the declared dimensions.
    case sizeMismatch(modality: Modality, expected: Int, actual: Int)
    /// The caller's output buffer does not hold the values a processor writes (a programming error).
    case outputSize(modality: Modality, expected: Int, actual: Int)
    /// A dimension is zero, negative or above the configured limit.
    case badDimensions(modality: Modality, detail: String)
    /// libturbojpeg reported an error or a warning (e.g. a truncated file).
    case corruptJPEG(String)
    /// A point cloud lacks one of the required fields `x`, `y`, `z`.
    case missingField(String)
    /// A parameter in a configuration struct is out of range.
    case badParameter(String)
    /// A GNSS coordinate is not finite or outside its valid range.
    case badCoordinate(String)
    /// The PCL shim reported a failure.
    case pointCloudFilter(String)
    /// FFTW could not create a plan for the given shape.
    case fftPlan(String)

    /// A human-readable explanation including the action to take.
    public var description: String {
        switch self {
        case let .sizeMismatch(modality, expected, actual):
            return "\(modality.rawValue): payload has \(actual) bytes but its dimensions require \(expected); check the sender's width/height/count fields and encoding"
        case let .outputSize(modality, expected, actual):
            return "\(modality.rawValue): the output buffer holds \(actual) values but \(expected) are written; size it with the processor's outputCount"
        case let .badDimensions(modality, detail):
            return "\(modality.rawValue): bad dimensions (\(detail)); send a shape within the configured limits"
        case let .corruptJPEG(detail):
            return "\(Modality.camera.rawValue): JPEG could not be decoded cleanly (\(detail)); the frame is dropped — check the camera encoder or transport for truncation"
        case let .missingField(name):
            return "\(Modality.lidar.rawValue): point cloud has no field '\(name)'; the fields list must contain x, y and z"
        case let .badParameter(detail):
            return "invalid preprocessing parameter: \(detail); fix the site or launch configuration"
        case let .badCoordinate(detail):
            return "\(Modality.gnss.rawValue): \(detail); the fix is dropped — check the receiver output"
        case let .pointCloudFilter(detail):
            return "\(Modality.lidar.rawValue): PCL filtering failed (\(detail)); check the crop box / voxel / outlier parameters"
        case let .fftPlan(detail):
            return "\(Modality.radar.rawValue): FFTW could not plan (\(detail)); the radar shape is unsupported"
        }
    }
}
