/// Why a predictor configuration or a prediction set was rejected.
public enum PredictError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A configuration value is invalid; the message names the field and the accepted range.
    case invalidConfiguration(field: String, detail: String)
    /// A prediction set cannot be turned into wire messages.
    case invalidPrediction(field: String, detail: String)

    /// A sentence saying what is wrong and what to do.
    public var description: String {
        switch self {
        case .invalidConfiguration(let field, let detail):
            return "invalid predictor configuration `\(field)`: \(detail); fix the value in the site calibration or launch file"
        case .invalidPrediction(let field, let detail):
            return "prediction cannot be published, `\(field)`: \(detail); this is a predictor bug or an invalid horizon"
        }
    }
}
